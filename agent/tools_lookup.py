"""Lookup tools: periods, anomalies and channels as JSON-ready data.

Every tool takes the :class:`~agent.context.ToolContext` first and returns plain
dicts; dates are ISO 8601 UTC strings with a trailing ``Z``. Unknown ids or names
raise :class:`agent.errors.NotFoundError` with a message for the person asking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from agent import catalog
from agent._common import (
    KINDS,
    SEVERITIES,
    anomaly_dict,
    check_choice,
    check_satellite,
    find_channels,
    json_ready,
    one_channel,
    parse_time,
    visible_anomaly,
)
from agent.context import ToolContext
from agent.errors import InvalidArgumentError
from agent.periods import resolve
from store import queries
from store.vector import iso_z

MAX_LIMIT = 1000


def resolve_period(ctx: ToolContext, text: str) -> dict[str, str]:
    """Resolve a time expression ("last week", "since 3 pm CET") to a UTC period.

    Relative expressions are relative to ``ctx.now()``; times with a zone are
    converted to UTC; dates without a zone are UTC. Returns ``{start, end, label}``.
    """
    period = resolve(text, ctx.utc_now())
    return {"start": iso_z(period.start), "end": iso_z(period.end), "label": period.label}


def list_anomalies(
    ctx: ToolContext,
    satellite: str | None = None,
    channel: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    kind: str | None = None,
    min_severity: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Anomalies overlapping ``[start, end]``, newest first, with their total count.

    Args:
        satellite: satellite name; all of the tenant's satellites when None.
        channel: channel name; all channels when None.
        start, end: ISO 8601 UTC bounds; open when None.
        kind: one of spike, level_shift, variance_change, trend_change, flatline, gap,
            pattern.
        min_severity: low, medium, high or critical.
        limit: at most this many anomalies are returned (1..1000); ``total`` counts all.
    """
    lower, upper = parse_time(start, "start"), parse_time(end, "end")
    check_choice(kind, "kind", KINDS)
    check_choice(min_severity, "min_severity", SEVERITIES)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit={limit} must be between 1 and {MAX_LIMIT}")

    with Session(ctx.engine) as session:
        entries = catalog.catalog(session, ctx.tenant)
        if satellite is not None:
            names = [name for _, name in catalog.satellites(session, ctx.tenant)]
            check_satellite(names, satellite)
        if channel is not None:
            ids = [e.channel_id for e in find_channels(entries, channel, satellite)]
        else:
            ids = [e.channel_id for e in entries if satellite in (None, e.satellite)]
        views, total = queries.list_anomalies(
            session,
            channel_ids=ids,
            start=lower,
            end=upper,
            kind=kind,
            min_severity=min_severity,
            limit=limit,
        )

    return {
        "filters": {
            "satellite": satellite,
            "channel": channel,
            "start": None if lower is None else iso_z(lower),
            "end": None if upper is None else iso_z(upper),
            "kind": kind,
            "min_severity": min_severity,
        },
        "total": total,
        "anomalies": [anomaly_dict(v) for v in views],
    }


def get_anomaly(ctx: ToolContext, anomaly_id: int) -> dict[str, Any]:
    """One anomaly by id: satellite, channel, start, end, ongoing, kind, severity, params."""
    with Session(ctx.engine) as session:
        view = visible_anomaly(session, ctx.tenant, anomaly_id)
    return anomaly_dict(view)


def list_channels(ctx: ToolContext, satellite: str | None = None) -> dict[str, Any]:
    """Channels (of one satellite, or all) with unit, description, point count, first/last."""
    with Session(ctx.engine) as session:
        entries = catalog.catalog(session, ctx.tenant)
        if satellite is not None:
            names = [name for _, name in catalog.satellites(session, ctx.tenant)]
            check_satellite(names, satellite)
        visible = {e.channel_id for e in entries}
        views = queries.list_channels(session, satellite)

    channels = [
        {
            "id": v.id,
            "satellite": v.satellite,
            "name": v.name,
            "unit": v.unit,
            "description": v.description,
            "points": v.points,
            "first": None if v.first is None else iso_z(v.first),
            "last": None if v.last is None else iso_z(v.last),
        }
        for v in views
        if v.id in visible
    ]
    return {"satellite": satellite, "channels": channels}


def channel_summary(
    ctx: ToolContext,
    channel: str | None = None,
    satellite: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    channel_id: int | None = None,
) -> dict[str, Any]:
    """Point count, min/max/mean, first/last timestamp and anomalies of one channel.

    The channel is given by ``channel_id`` or by name (plus ``satellite`` when the
    name exists on several satellites). ``start``/``end`` bound the range (ISO 8601).
    """
    lower, upper = parse_time(start, "start"), parse_time(end, "end")

    with Session(ctx.engine) as session:
        entry = one_channel(catalog.catalog(session, ctx.tenant), channel, satellite, channel_id)
        stats = catalog.point_stats(session, entry.channel_id, lower, upper)
        views, total = queries.list_anomalies(
            session, channel_ids=[entry.channel_id], start=lower, end=upper, limit=20
        )

    return {
        "satellite": entry.satellite,
        "channel": entry.channel,
        "channel_id": entry.channel_id,
        "unit": entry.unit,
        "start": None if lower is None else iso_z(lower),
        "end": None if upper is None else iso_z(upper),
        "points": stats.count,
        "min": json_ready(stats.minimum),
        "max": json_ready(stats.maximum),
        "mean": json_ready(stats.mean),
        "first": None if stats.first is None else iso_z(stats.first),
        "last": None if stats.last is None else iso_z(stats.last),
        "anomaly_count": total,
        "anomalies": [anomaly_dict(v) for v in views],
    }
