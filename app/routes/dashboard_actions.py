"""The dashboard's forms: annotate, acknowledge, silence, maintenance (CSRF-checked POSTs).

Each form posts `application/x-www-form-urlencoded` fields plus the hidden CSRF token
(checked by `app.auth.check_csrf`, a dependency of this router). A browser without
JavaScript gets a redirect back to the page; `dashboard.js` asks for JSON instead.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from app.auth import check_csrf
from app.deps import ServicesDep, SessionDep, TenantDep
from app.notifications.schemas import MaintenanceCreate, MaintenanceOut
from app.schemas import AnnotationOut
from store import incidents, notifications
from store.annotations import record_annotation
from store.errors import NotFoundError
from store.models import AnnotationCreate, Channel
from store.notifications_models import MaintenanceWindow
from store.types import utc_now
from store.vector import iso_z

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(check_csrf)]
)

#: Longest silence a form may ask for, in minutes (a week).
MAX_SILENCE_MIN = 7 * 24 * 60
Model = TypeVar("Model", bound=BaseModel)


def _validated(model: type[Model], data: dict[str, Any]) -> Model:
    """`data` as `model`, or a 422 naming each bad field and the reason."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()
        )
        raise HTTPException(422, detail=reasons) from None


def _answer(request: Request, payload: dict[str, Any], back: str) -> Response:
    """JSON for `dashboard.js`, a redirect back to the page for a plain form post."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(payload)
    return RedirectResponse(back, status_code=303)


@router.post("/anomalies/{anomaly_id}/annotations")
def annotate(
    request: Request,
    anomaly_id: int,
    services: ServicesDep,
    tenant: TenantDep,
    author: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    label: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Operator feedback from the anomaly page; a label sets the anomaly's status."""
    body = _validated(AnnotationCreate, {"author": author, "text": text, "label": label or None})
    try:
        record = record_annotation(
            services.engine, anomaly_id, body, services.index, tenant=tenant
        )
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    note = AnnotationOut.of(record).model_dump(mode="json")
    return _answer(request, note, f"/dashboard/anomalies/{anomaly_id}")


@router.post("/incidents/{incident_id}/ack")
def acknowledge(request: Request, incident_id: int, session: SessionDep) -> Response:
    """Acknowledge an incident: no more escalation messages about it."""
    try:
        incident = incidents.acknowledge(session, incident_id, utc_now())
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    session.commit()
    logger.info("incident %d acknowledged from the dashboard", incident_id)
    payload = {"id": incident_id, "acknowledged_at": iso_z(incident.acknowledged_at)}
    return _answer(request, payload, f"/dashboard/incidents/{incident_id}")


@router.post("/channels/{channel_id}/silence")
def silence(
    request: Request,
    channel_id: int,
    session: SessionDep,
    minutes: Annotated[int, Form(ge=1, le=MAX_SILENCE_MIN)] = 60,
    back: Annotated[str, Form(max_length=500)] = "/dashboard",
) -> Response:
    """No message about a channel for `minutes`."""
    if session.get(Channel, channel_id) is None:
        raise HTTPException(404, detail=f"channel {channel_id} does not exist")
    until = utc_now() + timedelta(minutes=minutes)
    record = notifications.silence_channel(session, channel_id, until)
    session.commit()
    logger.info("channel %d silenced until %s from the dashboard", channel_id, iso_z(until))
    payload = {"channel_id": channel_id, "until": iso_z(record.until)}
    return _answer(request, payload, back if _local(back) else "/dashboard")


@router.post("/maintenance")
def maintenance(
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
    satellite: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(max_length=64)] = "",
    end: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Declare a maintenance window of a satellite: anomalies recorded, nobody messaged."""
    body = _validated(
        MaintenanceCreate,
        {"tenant": tenant, "satellite": satellite, "start": start, "end": end, "reason": reason},
    )
    try:
        found = notifications.find_satellite(session, tenant, body.satellite)
    except NotFoundError as error:
        raise HTTPException(422, detail=f"satellite: {error}") from None
    assert found.id is not None
    window = notifications.add_maintenance(
        session,
        MaintenanceWindow(
            satellite_id=found.id, start=body.start, end=body.end, reason=body.reason
        ),
    )
    session.commit()
    payload = MaintenanceOut.of(window).model_dump(mode="json")
    return _answer(request, payload, f"/dashboard/satellites/{quote(body.satellite, safe='')}")


def _local(path: str) -> bool:
    """Whether `path` is a dashboard page of this service (no open redirect)."""
    return path.startswith("/dashboard") and not path.startswith("//") and "\\" not in path
