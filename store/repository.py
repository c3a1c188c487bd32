"""Writes to the store: satellites, channels, points, anomalies, checkpoints, events."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, insert, update
from sqlmodel import Session, SQLModel, col, select

from store.models import Anomaly, Channel, Checkpoint, Event, Point, Satellite
from store.types import UTCDateTime, utc_now

logger = logging.getLogger(__name__)

INSERT_BATCH = 5_000


@dataclass
class PointWriteResult:
    """What writing a batch of points to one channel did."""

    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    corrected_ts: list[datetime] = field(default_factory=list)
    unchanged_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass(frozen=True)
class AnomalyWrite:
    """The values of one anomaly to insert or update, keyed by (detector, start)."""

    detector: str
    kind: str
    start: datetime
    end: datetime
    score: float
    severity: str
    ongoing: bool
    params: dict[str, Any]


def get_or_create_satellite(session: Session, name: str, tenant: str = "default") -> Satellite:
    """The satellite called `name` in `tenant`, created when new."""
    found = session.scalars(
        select(Satellite).where(col(Satellite.tenant) == tenant, col(Satellite.name) == name)
    ).first()
    if found is not None:
        return found
    satellite = Satellite(name=name, tenant=tenant)
    session.add(satellite)
    session.flush()
    logger.info("new satellite %s (tenant %s)", name, tenant)
    return satellite


def get_or_create_channel(
    session: Session,
    satellite: Satellite,
    name: str,
    unit: str | None = None,
    description: str | None = None,
) -> Channel:
    """The channel `name` of `satellite`, created when new; fills a missing unit/description."""
    channel = session.scalars(
        select(Channel).where(col(Channel.satellite_id) == satellite.id, col(Channel.name) == name)
    ).first()
    if channel is None:
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name=name, unit=unit, description=description)
        session.add(channel)
        session.flush()
        logger.info("new channel %s/%s", satellite.name, name)
        return channel
    if unit and not channel.unit:
        channel.unit = unit
    if description and not channel.description:
        channel.description = description
    return channel


def write_points(
    session: Session, channel_id: int, ts: pd.Series, values: np.ndarray
) -> PointWriteResult:
    """Store points of one channel; existing timestamps with a new value are corrections.

    `ts` is a datetime64[ns, UTC] series without duplicates, `values` finite floats.
    Re-writing identical points changes nothing.
    """
    result = PointWriteResult()
    if len(ts) == 0:
        return result
    frame = pd.DataFrame({"ts": ts.to_numpy(), "value": np.asarray(values, dtype=float)})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)

    existing = _existing_values(session, channel_id, frame["ts"].min(), frame["ts"].max())
    result.unchanged_mask = np.zeros(len(frame), dtype=bool)
    if existing.empty:
        new = frame
        changed = frame.iloc[0:0]
    else:
        merged = frame.merge(existing, on="ts", how="left", suffixes=("", "_old"))
        is_new = merged["value_old"].isna()
        new = merged.loc[is_new, ["ts", "value"]]
        known = merged.loc[~is_new]
        is_changed = ~np.isclose(known["value"], known["value_old"], rtol=0.0, atol=0.0)
        changed = known.loc[is_changed, ["ts", "value"]]
        result.unchanged = int((~is_changed).sum())
        result.unchanged_mask[np.flatnonzero(~is_new.to_numpy())[~is_changed]] = True

    new_rows = [
        {"channel_id": channel_id, "ts": t, "value": float(v)}
        for t, v in zip(pd.DatetimeIndex(new["ts"]).to_pydatetime(), new["value"], strict=True)
    ]
    for offset in range(0, len(new_rows), INSERT_BATCH):
        session.execute(insert(Point), new_rows[offset : offset + INSERT_BATCH])
    result.inserted = len(new_rows)

    if len(changed):
        corrected_ts = list(pd.DatetimeIndex(changed["ts"]).to_pydatetime())
        point_table = SQLModel.metadata.tables["point"]
        session.connection().execute(
            update(point_table)
            .where(
                and_(
                    point_table.c.channel_id == channel_id,
                    point_table.c.ts == bindparam("b_ts", type_=UTCDateTime()),
                )
            )
            .values(value=bindparam("b_value")),
            [
                {"b_ts": t, "b_value": float(v)}
                for t, v in zip(corrected_ts, changed["value"], strict=True)
            ],
        )
        result.corrected = len(corrected_ts)
        result.corrected_ts = corrected_ts
    return result


def _existing_values(
    session: Session, channel_id: int, first: pd.Timestamp, last: pd.Timestamp
) -> pd.DataFrame:
    rows = session.execute(
        select(col(Point.ts), col(Point.value)).where(
            col(Point.channel_id) == channel_id,
            col(Point.ts) >= first.to_pydatetime(),
            col(Point.ts) <= last.to_pydatetime(),
        )
    ).all()
    if not rows:
        return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value_old": []})
    frame = pd.DataFrame(rows, columns=["ts", "value_old"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def upsert_anomalies(
    session: Session, channel_id: int, anomalies: Iterable[AnomalyWrite]
) -> list[tuple[Anomaly, bool]]:
    """Insert new anomalies and update known ones; returns (record, created) pairs.

    An anomaly is known by (channel, detector, start). Its status (operator feedback) is
    kept when its end, score or severity change.
    """
    written: list[tuple[Anomaly, bool]] = []
    for item in anomalies:
        found = session.scalars(
            select(Anomaly).where(
                col(Anomaly.channel_id) == channel_id,
                col(Anomaly.detector) == item.detector,
                col(Anomaly.start) == item.start,
            )
        ).first()
        if found is None:
            record = Anomaly(
                channel_id=channel_id,
                detector=item.detector,
                kind=item.kind,
                start=item.start,
                end=item.end,
                score=item.score,
                severity=item.severity,
                ongoing=item.ongoing,
                params=item.params,
            )
            session.add(record)
            written.append((record, True))
            continue
        found.kind = item.kind
        found.end = item.end
        found.score = item.score
        found.severity = item.severity
        found.ongoing = item.ongoing
        found.params = item.params
        found.updated_at = utc_now()
        session.add(found)
        written.append((found, False))
    session.flush()
    return written


def save_checkpoint(session: Session, source: str, channel: str, last_ts: datetime) -> None:
    """Record how far `source` has delivered `channel`; never moves backwards."""
    found = session.get(Checkpoint, (source, channel))
    if found is None:
        session.add(Checkpoint(source=source, channel=channel, last_ts=last_ts))
    elif last_ts > found.last_ts:
        found.last_ts = last_ts
        session.add(found)


def get_checkpoint(session: Session, source: str, channel: str) -> datetime | None:
    """The last timestamp `source` delivered for `channel`, if any."""
    found = session.get(Checkpoint, (source, channel))
    return None if found is None else found.last_ts


def add_events(session: Session, satellite: Satellite, events: Sequence[Event]) -> int:
    """Store context events, skipping ones already stored; returns how many were new."""
    added = 0
    for item in events:
        exists = session.scalars(
            select(Event).where(
                col(Event.satellite_id) == satellite.id,
                col(Event.ts) == item.ts,
                col(Event.kind) == item.kind,
            )
        ).first()
        if exists is None:
            assert satellite.id is not None
            item.satellite_id = satellite.id
            session.add(item)
            added += 1
    session.flush()
    return added
