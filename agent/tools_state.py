"""The state of a satellite now: ongoing anomalies and how fresh each channel's data is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from agent import catalog
from agent._common import anomaly_dict, check_satellite
from agent.context import ToolContext
from store import queries
from store.models import Anomaly, Point
from store.vector import iso_z

#: Data newer than this is fresh, whatever the channel's cadence.
FRESH_WITHIN = timedelta(minutes=15)
#: ... and so is data no older than this many of the channel's own sampling intervals.
FRESH_INTERVALS = 3
#: Points read per channel to measure its sampling interval.
CADENCE_POINTS = 20


def satellite_state(ctx: ToolContext, satellite: str | None = None) -> dict[str, Any]:
    """Ongoing anomalies and, per channel, the latest data time and whether it is fresh.

    A channel is fresh when its newest point is at most ``FRESH_WITHIN`` old or at most
    ``FRESH_INTERVALS`` of its median sampling interval. Returns ``{now, satellite,
    channels: [{satellite, channel, last, age_s, fresh}], ongoing: [anomaly], healthy}``;
    ``healthy`` is true when nothing is ongoing and every channel with data is fresh.
    """
    now = ctx.utc_now()
    with Session(ctx.engine) as session:
        entries = catalog.catalog(session, ctx.tenant)
        if satellite is not None:
            check_satellite([n for _, n in catalog.satellites(session, ctx.tenant)], satellite)
        entries = [e for e in entries if satellite in (None, e.satellite)]
        channels = [_channel_state(session, e, now) for e in entries]
        ids = [e.channel_id for e in entries]
        ongoing_ids = session.scalars(
            sa_select(col(Anomaly.id)).where(
                col(Anomaly.ongoing), col(Anomaly.channel_id).in_(ids)
            )
        ).all()
        ongoing = [anomaly_dict(queries.get_anomaly(session, int(i))) for i in ongoing_ids if i]

    ongoing.sort(key=lambda a: a["start"], reverse=True)
    with_data = [c for c in channels if c["last"] is not None]
    return {
        "now": iso_z(now),
        "satellite": satellite,
        "channels": channels,
        "ongoing": ongoing,
        "healthy": not ongoing and all(c["fresh"] for c in with_data) and bool(with_data),
    }


def _channel_state(session: Session, entry: catalog.CatalogEntry, now: datetime) -> dict[str, Any]:
    recent: list[Any] = list(
        session.execute(
            sa_select(col(Point.ts))
            .where(col(Point.channel_id) == entry.channel_id)
            .order_by(col(Point.ts).desc())
            .limit(CADENCE_POINTS)
        ).all()
    )
    stamps = [_utc(ts) for (ts,) in recent]
    last = stamps[0] if stamps else None
    state: dict[str, Any] = {
        "satellite": entry.satellite,
        "channel": entry.channel,
        "last": None if last is None else iso_z(last),
        "age_s": None,
        "fresh": False,
    }
    if last is None:
        return state
    steps = sorted((a - b).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False))
    interval = steps[len(steps) // 2] if steps else 0.0
    age = (now - last).total_seconds()
    limit = max(FRESH_WITHIN.total_seconds(), FRESH_INTERVALS * interval)
    state.update(age_s=age, fresh=age <= limit)
    return state


def _utc(value: datetime | str) -> datetime:
    """A raw timestamp column value (SQLite text, PostgreSQL naive UTC) as aware UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
