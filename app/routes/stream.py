"""GET /stream: new incidents and messages as server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from app.deps import ServicesDep, TenantDep
from app.notifications.stream import incident_events

router = APIRouter(tags=["notifications"])


@router.get("/stream")
async def stream(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    poll_s: Annotated[float, Query(ge=0.1, le=60)] = 1.0,
) -> EventSourceResponse:
    """Events `ready`, then `incident` and `message` of the key's tenant, until you leave."""
    events = incident_events(services.engine, request.is_disconnected, tenant, poll_s)
    return EventSourceResponse(events, ping=15)
