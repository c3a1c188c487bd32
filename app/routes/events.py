"""GET and POST /events: context events (telecommands, manoeuvres, eclipses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query

from app.deps import SessionDep, TenantDep
from app.schemas import EventOut, EventsResponse
from ingestion.event_files import validate_events
from store.events import find_events, store_events

router = APIRouter(tags=["events"])

#: Most events one POST stores.
MAX_EVENTS_PER_POST = 10_000


def _zoned(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            422, detail=f"{name}: {value.isoformat()} has no time zone; add Z or an offset"
        )
    return value


@router.get("/events", response_model=list[EventOut])
def list_events(
    session: SessionDep,
    tenant: TenantDep,
    satellite: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[EventOut]:
    """Context events within [start, end], oldest first."""
    first, last = _zoned("start", start), _zoned("end", end)
    if first and last and last < first:
        raise HTTPException(422, detail="end: must not be before start")
    return [
        EventOut.of(e)
        for e in find_events(session, satellite, first, last, tenant=tenant, limit=limit)
    ]


@router.post("/events", response_model=EventsResponse, openapi_extra={"x-scope": "ingest"})
def add_events(
    session: SessionDep,
    tenant: TenantDep,
    items: Annotated[
        list[Any], Body(description="Objects {satellite, ts (ISO 8601 with zone), kind, text}.")
    ],
) -> EventsResponse:
    """Store the valid events; report the bad ones by index and field."""
    if len(items) > MAX_EVENTS_PER_POST:
        raise HTTPException(
            413, detail=f"body: {len(items)} events in one request, at most {MAX_EVENTS_PER_POST}"
        )
    checked = validate_events(items)
    stored, duplicates = store_events(session, checked.events, tenant)
    session.commit()
    return EventsResponse(
        received=len(items),
        stored=stored,
        already_stored=duplicates,
        rejected=len(checked.errors),
        errors=checked.errors[:100],
    )
