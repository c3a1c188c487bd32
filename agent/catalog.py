"""Store reads the agent needs that ``store.queries`` does not offer.

They are light on purpose: the planner matches names on every question, so the
catalogue reads channel and satellite rows only, without the per-channel point
statistics ``store.queries.list_channels`` computes over the whole point table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from store.models import Channel, Point, Satellite


@dataclass(frozen=True)
class CatalogEntry:
    """A channel of the tenant with its satellite, without point statistics."""

    channel_id: int
    channel: str
    satellite_id: int
    satellite: str
    unit: str | None
    description: str | None


@dataclass(frozen=True)
class PointStats:
    """Aggregates of a channel's points over a range."""

    count: int
    minimum: float | None
    maximum: float | None
    mean: float | None
    first: datetime | None
    last: datetime | None


def catalog(session: Session, tenant: str) -> list[CatalogEntry]:
    """Every channel of every satellite of ``tenant``, by satellite and channel name."""
    rows = session.exec(
        select(Channel, Satellite)
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .where(col(Satellite.tenant) == tenant)
        .order_by(col(Satellite.name), col(Channel.name))
    ).all()
    entries = []
    for channel, satellite in rows:
        assert channel.id is not None and satellite.id is not None
        entries.append(
            CatalogEntry(
                channel_id=channel.id,
                channel=channel.name,
                satellite_id=satellite.id,
                satellite=satellite.name,
                unit=channel.unit,
                description=channel.description,
            )
        )
    return entries


def satellites(session: Session, tenant: str) -> list[tuple[int, str]]:
    """(id, name) of the tenant's satellites, also those without channels."""
    rows = session.exec(
        select(Satellite.id, Satellite.name)
        .where(col(Satellite.tenant) == tenant)
        .order_by(col(Satellite.name))
    ).all()
    return [(int(ident or 0), str(name)) for ident, name in rows]


def point_stats(
    session: Session, channel_id: int, start: datetime | None, end: datetime | None
) -> PointStats:
    """Count, min, max, mean, first and last timestamp of a channel's points in a range."""
    query = sa_select(
        func.count(),
        func.min(Point.value),
        func.max(Point.value),
        func.avg(Point.value),
        func.min(Point.ts),
        func.max(Point.ts),
    ).where(col(Point.channel_id) == channel_id)
    if start is not None:
        query = query.where(col(Point.ts) >= start)
    if end is not None:
        query = query.where(col(Point.ts) <= end)
    row: Any = session.execute(query).one()
    count, low, high, mean, first, last = row
    return PointStats(
        count=int(count or 0),
        minimum=None if low is None else float(low),
        maximum=None if high is None else float(high),
        mean=None if mean is None else float(mean),
        first=_to_utc(first),
        last=_to_utc(last),
    )


def _to_utc(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite returns text, PostgreSQL naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
