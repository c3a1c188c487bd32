"""The server-rendered dashboard (Jinja2) and the chat widget's demo page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import dashboard_views as views
from app.auth import check_csrf, demo_widget_key
from app.deps import ServicesDep, SessionDep, TenantDep
from app.routes.anomalies import KindParam, SeverityParam
from app.web_session import CSRF_FIELD, WebSession, signed_link
from store import incidents, notifications, queries
from store.annotations import list_annotations
from store.errors import NotFoundError
from store.vector import iso_z

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(check_csrf)]
)

PAGE_SIZE = 50
KINDS = ("spike", "level_shift", "variance_change", "trend_change", "flatline", "gap", "pattern")
SEVERITIES = ("low", "medium", "high", "critical")


def _iso(value: Any) -> str:
    return iso_z(value) if isinstance(value, datetime) else ("—" if value is None else str(value))


def _has_route(request: Request, path: str) -> bool:
    """Whether the app serves `path` (other engineers' routes may not be there yet)."""
    paths: dict[str, Any] = request.app.openapi().get("paths", {})  # cached by FastAPI
    return path in paths


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["iso"] = _iso
    return Jinja2Templates(env=env)


TEMPLATES = _templates()


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    features = {
        "incidents": _has_route(request, "/incidents/{incident_id}"),
        "notifications": _has_route(request, "/notifications"),
        "plots": _has_route(request, "/channels/{channel_id}/plot.png"),
        "annotations": _has_route(request, "/anomalies/{anomaly_id}/annotations"),
        "stream": _has_route(request, "/stream"),
    }
    session: WebSession | None = getattr(request.state, "web_session", None)
    principal = getattr(request.state, "principal", None)
    auth = {
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf if session else "",
        "logged_in": session is not None,
        "tenant": principal.tenant if principal else "",
        "can_write": bool(principal and principal.allows("admin")),
    }
    return TEMPLATES.TemplateResponse(
        request, name, {"features": features, **auth, **context}, status_code=status_code
    )


def _not_found(request: Request, error: NotFoundError) -> HTMLResponse:
    return _page(request, "not_found.html", status_code=404, message=str(error))


@router.get("", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep) -> HTMLResponse:
    """Satellites and their health, the latest anomalies and the open incidents."""
    latest, _ = queries.list_anomalies(session, limit=10)
    open_incidents: list[incidents.IncidentView] = []
    if _has_route(request, "/incidents/{incident_id}"):
        open_incidents, _ = incidents.list_incidents(session, status="open", limit=10)
    return _page(
        request,
        "overview.html",
        satellites=views.satellite_health(session),
        anomalies=latest,
        incidents=open_incidents,
    )


@router.get("/satellites/{name}", response_class=HTMLResponse)
def satellite(request: Request, name: str, session: SessionDep, tenant: TenantDep) -> HTMLResponse:
    """One satellite: its channels, anomalies, incidents and a maintenance form."""
    health = views.satellite_health(session, name)
    if not health:
        return _not_found(request, NotFoundError(f"satellite {name!r} does not exist"))
    plot_links = {
        c.id: signed_link(request, views.channel_plot_url(c.id), tenant)
        for c in health[0].channel_views
    }
    anomalies, total = queries.list_anomalies(session, satellite=name, limit=PAGE_SIZE)
    found: list[incidents.IncidentView] = []
    if _has_route(request, "/incidents/{incident_id}"):
        found, _ = incidents.list_incidents(session, satellite=name, limit=20)
    return _page(
        request,
        "satellite.html",
        health=health[0],
        plot_links=plot_links,
        anomalies=anomalies,
        total=total,
        incidents=found,
    )


@router.get("/anomalies", response_class=HTMLResponse)
def anomalies(
    request: Request,
    session: SessionDep,
    satellite: str | None = None,
    channel: str | None = None,
    kind: KindParam | Literal[""] | None = None,
    min_severity: SeverityParam | Literal[""] | None = None,
    start: str | None = None,
    end: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Anomalies with filters, newest first."""
    lower, start_error = views.parse_filter_time("start", start)
    upper, end_error = views.parse_filter_time("end", end)
    errors = [e for e in (start_error, end_error) if e]
    items, total = queries.list_anomalies(
        session,
        satellite=satellite or None,
        channel=channel or None,
        kind=kind or None,
        min_severity=min_severity or None,
        start=lower,
        end=upper,
        limit=PAGE_SIZE,
        offset=offset,
    )
    filters = {
        "satellite": satellite or "",
        "channel": channel or "",
        "kind": kind or "",
        "min_severity": min_severity or "",
        "start": start or "",
        "end": end or "",
    }
    return _page(
        request,
        "anomalies.html",
        anomalies=items,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        filters=filters,
        errors=errors,
        kinds=KINDS,
        severities=SEVERITIES,
        satellites=[s.name for s in queries.list_satellites(session)],
    )


@router.get("/anomalies/{anomaly_id}", response_class=HTMLResponse)
def anomaly(
    request: Request,
    anomaly_id: int,
    session: SessionDep,
    services: ServicesDep,
    tenant: TenantDep,
) -> HTMLResponse:
    """One anomaly: plot, explanation, annotations and the annotation buttons."""
    try:
        view = queries.get_anomaly(session, anomaly_id)
    except NotFoundError as error:
        return _not_found(request, error)
    explanation, explain_error = views.explanation_of(services, tenant, anomaly_id)
    return _page(
        request,
        "anomaly.html",
        anomaly=view,
        plot_url=signed_link(request, views.anomaly_plot_url(view), tenant),
        explanation=explanation,
        explain_error=explain_error,
        annotations=list_annotations(session, anomaly_id),
        neighbours=views.neighbours(view, session),
    )


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    session: SessionDep,
    status: Literal["open", "closed", ""] | None = None,
    satellite: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Incidents, newest first."""
    items, total = incidents.list_incidents(
        session, status=status or None, satellite=satellite or None, limit=PAGE_SIZE, offset=offset
    )
    return _page(
        request,
        "incidents.html",
        incidents=items,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        filters={"status": status or "", "satellite": satellite or ""},
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(request: Request, incident_id: int, session: SessionDep) -> HTMLResponse:
    """One incident: its anomalies, its timeline, acknowledge and silence forms."""
    try:
        view = incidents.get_incident(session, incident_id)
    except NotFoundError as error:
        return _not_found(request, error)
    return _page(
        request,
        "incident.html",
        incident=view,
        timeline=incidents.timeline(session, view),
        messages=notifications.list_messages(session, incident_id=incident_id),
    )


@router.get("/notifications", response_class=HTMLResponse)
def notification_log(
    request: Request,
    session: SessionDep,
    state: Literal["pending", "delivered", "dead", ""] | None = None,
) -> HTMLResponse:
    """The log of messages sent (or not yet) about incidents."""
    messages = notifications.list_messages(session, state=state or None, limit=200)
    return _page(request, "notifications.html", messages=messages, state=state or "")


@router.get("/widget-demo", response_class=HTMLResponse)
def widget_demo(
    request: Request, session: SessionDep, services: ServicesDep, tenant: TenantDep
) -> HTMLResponse:
    """A customer-like page that embeds the chat widget with a widget key (read, ask)."""
    names = [s.name for s in queries.list_satellites(session)]
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return _page(
        request,
        "widget_demo.html",
        widget_src=str(request.url_for("static", path="widget.js")),
        widget_key=demo_widget_key(request.app.state, services.engine, tenant, origin),
        satellite=names[0] if names else "SAT-1",
    )
