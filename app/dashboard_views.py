"""What the dashboard pages show, read from the store: plain data for the templates."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import Session, col, select

from agent.errors import AgentError
from agent.plot_links import plot_url_for
from agent.plots import CONTEXT_FACTOR, MIN_CONTEXT, plot_url
from agent.tools import explain
from app.runtime import Services
from store import queries
from store.models import Anomaly, Channel, Satellite
from store.queries import SEVERITY_RANK, AnomalyView, ChannelView
from store.vector import iso_z

logger = logging.getLogger(__name__)

#: Statuses of anomalies that still need someone's attention.
ACTIVE_STATUSES = ("open", "acknowledged")


@dataclass
class SatelliteHealth:
    """One row of the dashboard's satellite table."""

    name: str
    tenant: str
    channels: int = 0
    points: int = 0
    latest: datetime | None = None
    active: int = 0
    ongoing: int = 0
    worst: str | None = None
    channel_views: list[ChannelView] = field(default_factory=list)


def _worse(current: str | None, other: str) -> str:
    if current is None or SEVERITY_RANK.get(other, 0) > SEVERITY_RANK.get(current, 0):
        return other
    return current


def satellite_health(session: Session, name: str | None = None) -> list[SatelliteHealth]:
    """Per satellite: channels, latest data time, open or ongoing anomalies, worst severity."""
    query = select(Satellite).order_by(col(Satellite.name), col(Satellite.tenant))
    if name is not None:
        query = query.where(col(Satellite.name) == name)
    rows = {s.name: SatelliteHealth(name=s.name, tenant=s.tenant) for s in session.scalars(query)}

    for view in queries.list_channels(session, satellite=name):
        health = rows.get(view.satellite)
        if health is None:
            continue
        health.channels += 1
        health.points += view.points
        health.channel_views.append(view)
        if view.last is not None and (health.latest is None or view.last > health.latest):
            health.latest = view.last

    # Anomalies still open (or in progress), grouped by satellite and severity.
    counts = (
        select(
            col(Satellite.name),
            col(Anomaly.severity),
            func.count(),
            func.sum(case((col(Anomaly.ongoing), 1), else_=0)),
        )
        .join(Channel, col(Channel.id) == col(Anomaly.channel_id))
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .where(or_(col(Anomaly.status).in_(ACTIVE_STATUSES), col(Anomaly.ongoing)))
        .group_by(col(Satellite.name), col(Anomaly.severity))
    )
    if name is not None:
        counts = counts.where(col(Satellite.name) == name)
    result: list[Any] = list(session.execute(counts).all())
    for sat, severity, count, ongoing in result:
        health = rows.get(sat)
        if health is None:
            continue
        health.active += int(count)
        health.ongoing += int(ongoing or 0)
        health.worst = _worse(health.worst, severity)
    return list(rows.values())


def plot_window(view: AnomalyView) -> tuple[datetime, datetime]:
    """The period plotted around an anomaly: the anomaly with context on each side."""
    margin = max(MIN_CONTEXT, CONTEXT_FACTOR * (view.end - view.start))
    return view.start - margin, view.end + margin


def anomaly_plot_url(view: AnomalyView) -> str:
    """Relative URL of the PNG plot around an anomaly (unsigned; the page signs it)."""
    lower, upper = plot_window(view)
    return plot_url(view.channel_id, iso_z(lower), iso_z(upper))


def channel_plot_url(channel_id: int) -> str:
    """Relative URL of the PNG plot of a whole channel."""
    return plot_url_for(channel_id)


def explanation_of(
    services: Services, tenant: str, anomaly_id: int
) -> tuple[dict[str, Any] | None, str]:
    """The `explain` tool's result for an anomaly, or None and the reason it failed."""
    try:
        return explain(services.tool_context(tenant), anomaly_id), ""
    except AgentError as error:
        logger.warning("no explanation for anomaly %d: %s", anomaly_id, error)
        return None, str(error)


def parse_filter_time(name: str, text: str | None) -> tuple[datetime | None, str | None]:
    """A time given in a filter form, or None and what is wrong with it."""
    if text is None or not text.strip():
        return None, None
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None, f"{name}: {value!r} is not an ISO 8601 date; e.g. 2024-05-01T12:00:00Z"
    if parsed.tzinfo is None:
        return None, f"{name}: {value!r} has no time zone; add Z for UTC"
    return parsed, None


def neighbours(view: AnomalyView, session: Session, hours: float = 6.0) -> list[AnomalyView]:
    """Other anomalies of the same satellite within `hours` of this one."""
    span = timedelta(hours=hours)
    items, _ = queries.list_anomalies(
        session,
        satellite=view.satellite,
        start=view.start - span,
        end=view.end + span,
        limit=50,
        newest_first=False,
    )
    return [item for item in items if item.id != view.id]
