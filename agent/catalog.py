"""Store reads the agent needs that ``store.queries`` does not offer.

They are light on purpose: the planner matches names on every question, so the
catalogue reads channel and satellite rows only, without the per-channel point
statistics ``store.queries.list_channels`` computes over the whole point table.

Within :func:`question_scope` (one question of the planner or the LLM agent) the
catalogue is read once and shared by every tool call of that question; outside a
scope every call reads the store, so a channel added since is found at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

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


@dataclass(frozen=True)
class _Snapshot:
    entries: list[CatalogEntry]
    satellites: list[tuple[int, str]]


#: The catalogues read during the current question, by (engine, tenant); None outside one.
_MEMO: ContextVar[dict[tuple[Any, str], _Snapshot] | None] = ContextVar(
    "agent_catalog_memo", default=None
)


@contextmanager
def question_scope() -> Iterator[None]:
    """Share one catalogue read among the tool calls of one question (nested: the outer)."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def catalog(session: Session, tenant: str) -> list[CatalogEntry]:
    """Every channel of every satellite of ``tenant``, by satellite and channel name."""
    return list(_snapshot(session, tenant).entries)


def satellites(session: Session, tenant: str) -> list[tuple[int, str]]:
    """(id, name) of the tenant's satellites, also those without channels."""
    return list(_snapshot(session, tenant).satellites)


def _snapshot(session: Session, tenant: str) -> _Snapshot:
    memo = _MEMO.get()
    if memo is None:
        return _read(session, tenant)
    key = (session.get_bind(), tenant)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _read(session, tenant)
    return found


def _read(session: Session, tenant: str) -> _Snapshot:
    # one query of plain columns: satellites with their channels (if any), in name order
    rows: list[Any] = list(
        session.execute(
            sa_select(
                col(Satellite.id),
                col(Satellite.name),
                col(Channel.id),
                col(Channel.name),
                col(Channel.unit),
                col(Channel.description),
            )
            .outerjoin(Channel, col(Channel.satellite_id) == col(Satellite.id))
            .where(col(Satellite.tenant) == tenant)
            .order_by(col(Satellite.name), col(Channel.name))
        ).all()
    )
    entries = []
    names: dict[int, str] = {}
    for sat_id, sat_name, channel_id, channel_name, unit, description in rows:
        names.setdefault(int(sat_id), str(sat_name))
        if channel_id is not None:
            entries.append(
                CatalogEntry(
                    channel_id=int(channel_id),
                    channel=str(channel_name),
                    satellite_id=int(sat_id),
                    satellite=str(sat_name),
                    unit=unit,
                    description=description,
                )
            )
    return _Snapshot(entries=entries, satellites=list(names.items()))


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
