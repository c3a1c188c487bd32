"""Context events (eclipses, telecommands, manoeuvres, passes) as a tool."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from agent import catalog
from agent._common import check_satellite, parse_time
from agent.context import ToolContext
from agent.errors import InvalidArgumentError
from store.models import Event
from store.vector import iso_z

MAX_EVENTS = 500


def find_events(
    ctx: ToolContext,
    satellite: str | None = None,
    kind: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> dict[str, Any]:
    """Stored context events of the tenant's satellites within ``[start, end]``.

    Args:
        satellite: satellite name; all of the tenant's satellites when None.
        kind: event kind, e.g. eclipse_entry, eclipse_exit, telecommand.
        start, end: ISO 8601 UTC bounds; open when None.
        limit: at most this many events (1..500); ``total`` counts all.
        newest_first: order by time descending (e.g. for "the last eclipse").
    """
    lower, upper = parse_time(start, "start"), parse_time(end, "end")
    if not 1 <= limit <= MAX_EVENTS:
        raise InvalidArgumentError(f"limit={limit} must be between 1 and {MAX_EVENTS}")

    with Session(ctx.engine) as session:
        known = catalog.satellites(session, ctx.tenant)
        if satellite is not None:
            check_satellite([name for _, name in known], satellite)
        names = {ident: name for ident, name in known if satellite in (None, name)}
        query = select(Event).where(col(Event.satellite_id).in_(list(names)))
        if kind is not None:
            query = query.where(col(Event.kind) == kind)
        if lower is not None:
            query = query.where(col(Event.ts) >= lower)
        if upper is not None:
            query = query.where(col(Event.ts) <= upper)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        order = col(Event.ts).desc() if newest_first else col(Event.ts)
        found = session.exec(query.order_by(order).limit(limit)).all()
        events = [
            {
                "id": e.id,
                "satellite": names[e.satellite_id],
                "ts": iso_z(e.ts),
                "kind": e.kind,
                "text": e.text,
            }
            for e in found
        ]
    return {"total": int(total), "events": events}
