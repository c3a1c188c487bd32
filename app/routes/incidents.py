"""GET /incidents, GET /incidents/{id}, GET and POST /incidents/{id}/ack."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app.deps import ServicesDep, SessionDep, TenantDep
from app.notifications.confirm import TOKEN_ROUTE, action_url, page, wants_html
from app.notifications.schemas import IncidentDetail, IncidentOut, IncidentPage, TimelineEntry
from app.notifications.wiring import link_signer
from app.schemas import AnomalyOut
from store import incidents
from store.errors import NotFoundError
from store.types import utc_now
from store.vector import iso_z

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


@router.get("/incidents/{incident_id}/ack", response_class=HTMLResponse, openapi_extra=TOKEN_ROUTE)
def acknowledge_page(incident_id: int, token: str, services: ServicesDep) -> HTMLResponse:
    """The acknowledge link of a message: what the incident is, and a button to confirm."""
    title = f"Acknowledge incident #{incident_id}"
    if not link_signer(services.settings).check(f"ack:{incident_id}", token):
        return page(title, error="This link is not valid for this incident.", status=403)
    with Session(services.engine) as session:
        try:
            view = incidents.get_incident(session, incident_id, with_anomalies=False)
        except NotFoundError:
            return page(title, error=f"Incident {incident_id} does not exist.", status=404)
    facts = [
        ("Satellite", view.satellite),
        ("Severity", view.severity),
        ("Start (UTC)", iso_z(view.start)),
        ("Channels", ", ".join(c["name"] for c in view.channels)),
        ("Status", view.status),
    ]
    if view.acknowledged_at is not None:
        return page(title, f"Already acknowledged at {iso_z(view.acknowledged_at)}.", facts=facts)
    return page(
        title,
        "Acknowledging stops further escalation messages about this incident.",
        facts=facts,
        action=action_url(f"/incidents/{incident_id}/ack", token=token),
        button="Acknowledge",
    )


@router.post(
    "/incidents/{incident_id}/ack",
    response_model=IncidentOut,
    openapi_extra=TOKEN_ROUTE,
    responses={200: {"content": {"text/html": {}}}},
)
def acknowledge(
    incident_id: int, token: str, request: Request, services: ServicesDep
) -> IncidentOut | Response:
    """Acknowledge an incident with the token of its link: no more escalation messages.

    The token is the credential (no API key); a browser's form gets an HTML page back.
    """
    if not link_signer(services.settings).check(f"ack:{incident_id}", token):
        raise HTTPException(403, detail="token: does not match this incident's ack link")
    with Session(services.engine) as session:
        try:
            incidents.acknowledge(session, incident_id, utc_now())
        except NotFoundError as error:
            raise HTTPException(404, detail=str(error)) from None
        session.commit()
        view = incidents.get_incident(session, incident_id, with_anomalies=False)
    if wants_html(request):
        return page(
            f"Incident #{incident_id} acknowledged",
            f"Acknowledged at {iso_z(view.acknowledged_at)}: no more escalation messages.",
            done=True,
        )
    return IncidentOut.of(view)
