"""GET /incidents, GET /incidents/{id}, POST /incidents/{id}/ack."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from app.deps import ServicesDep, SessionDep, TenantDep
from app.notifications.schemas import IncidentDetail, IncidentOut, IncidentPage, TimelineEntry
from app.notifications.wiring import link_signer
from app.schemas import AnomalyOut
from store import incidents
from store.errors import NotFoundError
from store.types import utc_now

router = APIRouter(tags=["incidents"])


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    session: SessionDep,
    tenant: TenantDep,
    satellite: str | None = None,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """Incidents, newest first, paginated."""
    items, total = incidents.list_incidents(
        session, tenant=tenant, satellite=satellite, status=status, limit=limit, offset=offset
    )
    return IncidentPage(
        items=[IncidentOut.of(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: int, session: SessionDep, services: ServicesDep) -> IncidentDetail:
    """One incident with its anomalies, its timeline and its (signed) action links."""
    try:
        view = incidents.get_incident(session, incident_id)
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    signer = link_signer(services.settings)
    base = IncidentOut.of(view)
    return IncidentDetail(
        **base.__dict__,
        anomalies=[AnomalyOut.of(a) for a in view.anomalies],
        timeline=[TimelineEntry(**e) for e in incidents.timeline(session, view)],
        links={
            "acknowledge": f"/incidents/{view.id}/ack?token={signer.sign(f'ack:{view.id}')}",
            "silence": {
                c["name"]: f"/channels/{c['id']}/silence?minutes=60"
                f"&token={signer.sign('silence:' + str(c['id']))}"
                for c in view.channels
            },
        },
    )


@router.post("/incidents/{incident_id}/ack", response_model=IncidentOut)
def acknowledge(
    incident_id: int, token: str, session: SessionDep, services: ServicesDep
) -> IncidentOut:
    """Acknowledge an incident with the token of its link: no more escalation messages."""
    if not link_signer(services.settings).check(f"ack:{incident_id}", token):
        raise HTTPException(403, detail="token: does not match this incident's ack link")
    try:
        incidents.acknowledge(session, incident_id, utc_now())
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    session.commit()
    return IncidentOut.of(incidents.get_incident(session, incident_id, with_anomalies=False))
