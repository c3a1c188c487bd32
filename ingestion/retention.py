"""Retention: raw points older than a horizon are purged, anomalies and their context kept.

Every anomaly stays, and so do the points from `margin` before its start to `margin`
after its end, so its plot and its explanation still work after the purge.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from store.models import Anomaly, Channel, Point

logger = logging.getLogger(__name__)


def purge_points(engine: Engine, now: datetime, days: float, margin: timedelta) -> int:
    """Delete points older than `days` before `now`, outside every anomaly ± `margin`.

    `days` of 0 keeps everything. Returns how many points were deleted.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0 (0 keeps everything), got {days!r}")
    if margin < timedelta(0):
        raise ValueError(f"margin must not be negative, got {margin}")
    if days == 0:
        return 0

    cutoff = now - timedelta(days=days)
    deleted = 0
    with Session(engine) as session:
        channel_ids = [i for i in session.scalars(select(col(Channel.id))).all() if i is not None]
        for channel_id in channel_ids:
            rows = session.execute(
                select(col(Anomaly.start), col(Anomaly.end))
                .where(col(Anomaly.channel_id) == channel_id)
                .where(col(Anomaly.start) < cutoff + margin)
                .order_by(col(Anomaly.start))
            ).all()
            windows: list[tuple[datetime, datetime]] = [(row[0], row[1]) for row in rows]
            deleted += _purge_channel(session, channel_id, cutoff, _keep(windows, margin))
        session.commit()
    if deleted:
        logger.info("retention: %d points older than %s purged", deleted, cutoff.isoformat())
    return deleted


def _keep(windows: list[tuple[datetime, datetime]], margin: timedelta) -> list[list[datetime]]:
    merged: list[list[datetime]] = []
    for start, end in windows:
        low, high = start - margin, end + margin
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return merged


def _purge_channel(
    session: Session, channel_id: int, cutoff: datetime, keep: list[list[datetime]]
) -> int:
    deleted = 0
    lower: datetime | None = None
    for low, high in [*keep, [cutoff, cutoff]]:
        upper = min(low, cutoff)
        query = delete(Point).where(col(Point.channel_id) == channel_id, col(Point.ts) < upper)
        if lower is not None:
            query = query.where(col(Point.ts) > lower)
        if lower is None or upper > lower:
            deleted += session.execute(query).rowcount or 0  # type: ignore[attr-defined]
        lower = high
        if lower >= cutoff:
            break
    return deleted
