"""Expected answers, computed straight from the store's tables.

These queries are written independently of the agent: they read the SQL tables with
plain SQLModel selects, so an expected result is never a copy of the planner's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from store.models import Anomaly, Channel, Event, Point, Satellite

SEVERITY_ORDER = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Row:
    """An anomaly with its names, as the truth queries see it."""

    id: int
    satellite: str
    channel: str
    channel_id: int
    start: datetime
    end: datetime
    kind: str
    severity: str
    ongoing: bool


def z(moment: datetime) -> str:
    """ISO 8601 UTC with Z, to the second (how the service writes dates)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Truth:
    """Reads of the QA store that the expected answers are made of."""

    def __init__(self, engine: Engine) -> None:
        with Session(engine) as session:
            rows = session.exec(
                select(Anomaly, Channel, Satellite)
                .join(Channel, col(Channel.id) == col(Anomaly.channel_id))
                .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
            ).all()
            self.rows = [
                Row(
                    id=int(a.id or 0),
                    satellite=s.name,
                    channel=c.name,
                    channel_id=int(c.id or 0),
                    start=utc(a.start),
                    end=utc(a.end),
                    kind=a.kind,
                    severity=a.severity,
                    ongoing=a.ongoing,
                )
                for a, c, s in rows
            ]
            self.channels = [
                (s.name, c.name, int(c.id or 0))
                for c, s in session.exec(
                    select(Channel, Satellite).join(
                        Satellite, col(Satellite.id) == col(Channel.satellite_id)
                    )
                ).all()
            ]
            self.events = [
                (s.name, utc(e.ts), e.kind)
                for e, s in session.exec(
                    select(Event, Satellite).join(
                        Satellite, col(Satellite.id) == col(Event.satellite_id)
                    )
                ).all()
            ]
            self.last_point = {
                cid: utc(
                    session.exec(
                        select(Point.ts)
                        .where(Point.channel_id == cid)
                        .order_by(col(Point.ts).desc())
                    ).first()
                    or datetime.min
                )
                for _, _, cid in self.channels
            }

    def anomalies(
        self,
        satellite: str | None = None,
        channel: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        kind: str | None = None,
        min_severity: str | None = None,
    ) -> list[Row]:
        """Anomalies overlapping ``[start, end]`` with these names, kind and severity."""
        floor = SEVERITY_ORDER.index(min_severity) if min_severity else 0
        return [
            r
            for r in self.rows
            if satellite in (None, r.satellite)
            and channel in (None, r.channel)
            and (start is None or r.end >= start)
            and (end is None or r.start <= end)
            and kind in (None, r.kind)
            and SEVERITY_ORDER.index(r.severity) >= floor
        ]

    def last(self, **filters: object) -> Row:
        """The anomaly with the latest start among the matching ones."""
        matching = self.anomalies(**filters)  # type: ignore[arg-type]
        return max(matching, key=lambda r: (r.start, r.id))

    def last_eclipse(self, satellite: str) -> tuple[datetime, datetime]:
        """Entry and exit of the satellite's last complete eclipse."""
        exits = [ts for s, ts, k in self.events if s == satellite and k == "eclipse_exit"]
        exit_ts = max(exits)
        entries = [ts for s, ts, k in self.events if s == satellite and k == "eclipse_entry"]
        return max(ts for ts in entries if ts <= exit_ts), exit_ts

    def co_occurring(self, row: Row) -> list[Row]:
        """Anomalies on the satellite's other channels that overlap ``row`` in time."""
        return [
            r
            for r in self.rows
            if r.satellite == row.satellite
            and r.channel != row.channel
            and r.start <= row.end
            and r.end >= row.start
        ]

    def events_before(self, row: Row, seconds: float) -> list[datetime]:
        """Event times of the satellite at most ``seconds`` before the anomaly's start."""
        return [
            ts
            for s, ts, _ in self.events
            if s == row.satellite and 0 <= (row.start - ts).total_seconds() <= seconds
        ]

    def channel_id(self, satellite: str, channel: str) -> int:
        return next(cid for s, c, cid in self.channels if (s, c) == (satellite, channel))
