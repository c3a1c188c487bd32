"""Tenant scoping of a session, in one place: every ORM read sees one tenant's rows.

`scope_session(session, tenant)` adds a `with_loader_criteria` filter for every table
that belongs to a satellite, directly or through a channel, anomaly or incident, to each
ORM statement the session executes (SELECT, UPDATE, DELETE, `session.get`, lazy loads).
A route that reads through the request's session therefore cannot see another tenant's
satellite, channel, point, anomaly, annotation, event, incident or message, whether or
not it filters by tenant itself; an id of another tenant behaves like an unknown id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlmodel import Session

from store.models import Annotation, Anomaly, Channel, Event, Point, Satellite
from store.notifications_models import (
    ChannelSilence,
    Incident,
    IncidentAnomaly,
    MaintenanceWindow,
    OutboxMessage,
    Subscription,
)

_TENANT_KEY = "imon_tenant"


def _columns(model: Any) -> Any:
    return model.__table__.c


def _criteria(tenant: str) -> list[Any]:
    """One loader criterion per table, built on plain tables so they do not recurse."""
    satellites, channels = _columns(Satellite), _columns(Channel)
    anomalies, incidents = _columns(Anomaly), _columns(Incident)

    satellite_ids = select(satellites.id).where(satellites.tenant == tenant)
    channel_ids = select(channels.id).where(channels.satellite_id.in_(satellite_ids))
    anomaly_ids = select(anomalies.id).where(anomalies.channel_id.in_(channel_ids))
    incident_ids = select(incidents.id).where(incidents.satellite_id.in_(satellite_ids))
    rules: list[tuple[Any, Any]] = [
        (Satellite, satellites.tenant == tenant),
        (Channel, channels.satellite_id.in_(satellite_ids)),
        (Point, _columns(Point).channel_id.in_(channel_ids)),
        (Anomaly, anomalies.channel_id.in_(channel_ids)),
        (Annotation, _columns(Annotation).anomaly_id.in_(anomaly_ids)),
        (Event, _columns(Event).satellite_id.in_(satellite_ids)),
        (Incident, incidents.satellite_id.in_(satellite_ids)),
        (IncidentAnomaly, _columns(IncidentAnomaly).incident_id.in_(incident_ids)),
        (OutboxMessage, _columns(OutboxMessage).incident_id.in_(incident_ids)),
        (Subscription, _columns(Subscription).tenant == tenant),
        (ChannelSilence, _columns(ChannelSilence).channel_id.in_(channel_ids)),
        (MaintenanceWindow, _columns(MaintenanceWindow).satellite_id.in_(satellite_ids)),
    ]
    return [
        with_loader_criteria(entity, rule, include_aliases=True, propagate_to_loaders=True)
        for entity, rule in rules
    ]


def _add_criteria(state: ORMExecuteState) -> None:
    tenant = state.session.info.get(_TENANT_KEY)
    if tenant is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*_criteria(tenant))


def scope_session(session: Session, tenant: str) -> Session:
    """Make every ORM statement of `session` see only `tenant`'s rows; returns `session`."""
    if not tenant:
        raise ValueError("tenant: empty; give the tenant the session belongs to")
    session.info[_TENANT_KEY] = tenant
    if not event.contains(session, "do_orm_execute", _add_criteria):
        event.listen(session, "do_orm_execute", _add_criteria)
    return session


def session_tenant(session: Session) -> str | None:
    """The tenant `session` is scoped to, or None for an unscoped (service) session."""
    tenant = session.info.get(_TENANT_KEY)
    return str(tenant) if tenant is not None else None
