"""Plot links for answers.

:func:`plot_url` delegates to :func:`agent.plot_links.plot_url_for`, the one place
that knows the plot route. The :func:`plot` tool picks the
window (an anomaly with some context around it, or a given period) so that the dates
of the link come from a tool result like every other date of an answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from agent import catalog
from agent._common import anomaly_dict, one_channel, parse_time, visible_anomaly
from agent.context import ToolContext
from agent.errors import InvalidArgumentError
from agent.plot_links import plot_url_for
from store.vector import iso_z

#: Context shown on each side of an anomaly, as a multiple of its duration.
CONTEXT_FACTOR = 3.0
#: Least context shown on each side of an anomaly.
MIN_CONTEXT = timedelta(minutes=30)


def plot_url(channel_id: int, start: str, end: str) -> str:
    """Relative URL of the PNG plot of a channel between two ISO 8601 UTC dates."""
    return plot_url_for(channel_id, start, end)


def plot(
    ctx: ToolContext,
    anomaly_id: int | None = None,
    channel: str | None = None,
    satellite: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> dict[str, Any]:
    """A plot link: around an anomaly (with context) or of a channel over ``[start, end]``.

    Returns ``{url, channel_id, satellite, channel, start, end, anomaly}``; ``anomaly``
    is the plotted anomaly or None. Without a period the channel's last day of data is
    plotted.
    """
    lower: datetime | None
    upper: datetime | None
    with Session(ctx.engine) as session:
        if anomaly_id is not None:
            view = visible_anomaly(session, ctx.tenant, anomaly_id)
            margin = max(MIN_CONTEXT, CONTEXT_FACTOR * (view.end - view.start))
            lower, upper = view.start - margin, view.end + margin
            channel_id, sat, name = view.channel_id, view.satellite, view.channel
            anomaly: dict[str, Any] | None = anomaly_dict(view)
        else:
            if channel is None:
                raise InvalidArgumentError("give an anomaly_id or a channel to plot")
            entry = one_channel(catalog.catalog(session, ctx.tenant), channel, satellite, None)
            channel_id, sat, name, anomaly = entry.channel_id, entry.satellite, entry.channel, None
            lower, upper = parse_time(start, "start"), parse_time(end, "end")
            if lower is None or upper is None:
                stats = catalog.point_stats(session, channel_id, lower, upper)
                upper = upper or stats.last or ctx.utc_now()
                lower = lower or upper - timedelta(days=1)

    assert lower is not None and upper is not None
    first, last = iso_z(lower), iso_z(upper)
    return {
        "url": plot_url(channel_id, first, last),
        "channel_id": channel_id,
        "satellite": sat,
        "channel": name,
        "start": first,
        "end": last,
        "anomaly": anomaly,
    }
