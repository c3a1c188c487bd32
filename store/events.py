"""Context events by satellite name: the reads and writes the API and CLI need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store.models import Event, Satellite
from store.repository import add_events, get_or_create_satellite


@dataclass(frozen=True)
class EventView:
    """A context event with its satellite's name."""

    id: int
    satellite: str
    ts: datetime
    kind: str
    text: str


def find_events(
    session: Session,
    satellite: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    tenant: str = "default",
    limit: int = 1000,
) -> list[EventView]:
    """Events of `tenant` (of one satellite when given) within [start, end], in time order."""
    query = (
        select(Event, Satellite)
        .join(Satellite, col(Satellite.id) == col(Event.satellite_id))
        .where(col(Satellite.tenant) == tenant)
    )
    if satellite is not None:
        query = query.where(col(Satellite.name) == satellite)
    if start is not None:
        query = query.where(col(Event.ts) >= start)
    if end is not None:
        query = query.where(col(Event.ts) <= end)
    rows: list[Any] = list(
        session.execute(query.order_by(col(Event.ts), col(Event.id)).limit(limit)).all()
    )
    return [EventView(e.id, s.name, e.ts, e.kind, e.text) for e, s in rows]


def store_events(
    session: Session, items: Sequence[Any], tenant: str = "default"
) -> tuple[int, int]:
    """Store items with satellite, ts, kind, text; returns (new, already stored). Not committed."""
    by_satellite: dict[str, list[Event]] = {}
    for item in items:
        by_satellite.setdefault(item.satellite, []).append(
            Event(satellite_id=0, ts=item.ts, kind=item.kind, text=item.text)
        )
    added = 0
    for name, events in by_satellite.items():
        satellite = get_or_create_satellite(session, name, tenant)
        added += add_events(session, satellite, _unique(events))
    return added, len(items) - added


def _unique(events: list[Event]) -> list[Event]:
    seen: set[tuple[datetime, str]] = set()
    kept = []
    for event in events:
        if (event.ts, event.kind) not in seen:
            seen.add((event.ts, event.kind))
            kept.append(event)
    return kept
