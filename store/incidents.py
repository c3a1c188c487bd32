"""Reads of incidents, shaped for the API, the dashboard and the messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from store import queries
from store.errors import NotFoundError
from store.models import Anomaly, Channel, Satellite
from store.notifications_models import Incident, IncidentAnomaly, OutboxMessage
from store.queries import AnomalyView


@dataclass(frozen=True)
class IncidentView:
    """An incident with its satellite and channel names."""

    id: int
    satellite: str
    satellite_id: int
    tenant: str
    start: datetime
    end: datetime
    severity: str
    status: str
    channels: list[dict[str, Any]]
    anomaly_count: int
    opened_at: datetime
    closed_at: datetime | None
    acknowledged_at: datetime | None
    updated_at: datetime
    anomalies: list[AnomalyView] = field(default_factory=list)


def incident_view(
    session: Session, incident: Incident, with_anomalies: bool = False
) -> IncidentView:
    """The view of one incident record."""
    assert incident.id is not None
    satellite = session.get(Satellite, incident.satellite_id)
    assert satellite is not None
    names = {
        c.id: c.name
        for c in session.scalars(
            select(Channel).where(col(Channel.id).in_(list(incident.channels)))
        ).all()
    }
    anomaly_ids = list(
        session.scalars(
            select(IncidentAnomaly.anomaly_id).where(
                col(IncidentAnomaly.incident_id) == incident.id
            )
        ).all()
    )
    anomalies = (
        sorted(
            (queries.get_anomaly(session, i) for i in anomaly_ids),
            key=lambda a: (a.start, a.id),
        )
        if with_anomalies
        else []
    )
    return IncidentView(
        id=incident.id,
        satellite=satellite.name,
        satellite_id=incident.satellite_id,
        tenant=satellite.tenant,
        start=incident.start,
        end=incident.end,
        severity=incident.severity,
        status=incident.status,
        channels=[{"id": i, "name": names.get(i, str(i))} for i in incident.channels],
        anomaly_count=len(anomaly_ids),
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        acknowledged_at=incident.acknowledged_at,
        updated_at=incident.updated_at,
        anomalies=anomalies,
    )


def get_incident(session: Session, incident_id: int, with_anomalies: bool = True) -> IncidentView:
    """One incident by id, with its anomalies, or `NotFoundError`."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist")
    return incident_view(session, incident, with_anomalies)


def list_incidents(
    session: Session,
    *,
    tenant: str | None = None,
    satellite: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[IncidentView], int]:
    """Incidents matching the filters, newest start first, and their total count."""
    query = select(Incident).join(Satellite, col(Satellite.id) == col(Incident.satellite_id))
    if tenant is not None:
        query = query.where(col(Satellite.tenant) == tenant)
    if satellite is not None:
        query = query.where(col(Satellite.name) == satellite)
    if status is not None:
        query = query.where(col(Incident.status) == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(col(Incident.start).desc(), col(Incident.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [incident_view(session, row) for row in rows], int(total)


def updated_since(session: Session, since: datetime, limit: int = 100) -> list[IncidentView]:
    """Incidents changed after `since` (wall-clock), oldest change first."""
    rows = session.scalars(
        select(Incident)
        .where(col(Incident.updated_at) > since)
        .order_by(col(Incident.updated_at), col(Incident.id))
        .limit(limit)
    ).all()
    return [incident_view(session, row) for row in rows]


def acknowledge(session: Session, incident_id: int, now: datetime) -> Incident:
    """Mark an incident (and its open anomalies) acknowledged; no further escalations."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} does not exist")
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        incident.updated_at = now
        session.add(incident)
        for anomaly in session.scalars(
            select(Anomaly)
            .join(IncidentAnomaly, col(IncidentAnomaly.anomaly_id) == col(Anomaly.id))
            .where(col(IncidentAnomaly.incident_id) == incident_id, col(Anomaly.status) == "open")
        ).all():
            anomaly.status = "acknowledged"
            session.add(anomaly)
    session.flush()
    return incident


def timeline(session: Session, view: IncidentView) -> list[dict[str, Any]]:
    """What happened to an incident, in order: anomalies (data time), messages (wall clock)."""
    entries: list[dict[str, Any]] = [
        {
            "ts": view.start,
            "clock": "data",
            "kind": "opened",
            "text": f"incident #{view.id} opened",
        }
    ]
    entries += [
        {
            "ts": a.start,
            "clock": "data",
            "kind": "anomaly",
            "text": f"{a.kind} on {a.channel} ({a.severity}), anomaly #{a.id}",
        }
        for a in view.anomalies
    ]
    messages = session.scalars(
        select(OutboxMessage)
        .where(col(OutboxMessage.incident_id) == view.id)
        .order_by(col(OutboxMessage.id))
    ).all()
    entries += [
        {
            "ts": m.delivered_at or m.dead_at or m.created_at,
            "clock": "wall",
            "kind": "message",
            "text": f"{m.transition} message over {m.channel}: "
            + ("delivered" if m.delivered_at else "dead" if m.dead_at else "pending"),
        }
        for m in messages
    ]
    if view.acknowledged_at is not None:
        entries.append(
            {"ts": view.acknowledged_at, "clock": "wall", "kind": "acknowledged", "text": ""}
        )
    if view.status == "closed":
        entries.append({"ts": view.end, "clock": "data", "kind": "closed", "text": ""})
    return sorted(entries, key=lambda e: e["ts"])
