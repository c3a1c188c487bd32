"""The link to a channel's plot, for the ``plot_url`` of answers about one channel."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from agent._common import parse_time
from store.vector import iso_z


def plot_url_for(
    channel_id: int, start: str | datetime | None = None, end: str | datetime | None = None
) -> str:
    """Relative URL of the PNG plot of a channel over [start, end] (``GET
    /channels/{id}/plot.png``).

    ``start``/``end`` are ISO 8601 strings with a zone or aware datetimes, as tools return
    them; the URL carries them as ISO 8601 UTC with ``Z``. An omitted bound is left out
    and the plot then uses the channel's first or last stored point.
    """
    if isinstance(channel_id, bool) or not isinstance(channel_id, int) or channel_id < 1:
        raise ValueError(f"channel_id must be a positive integer; got {channel_id!r}")
    first, last = parse_time(start, "start"), parse_time(end, "end")
    if first is not None and last is not None and last < first:
        raise ValueError(f"end {iso_z(last)} is before start {iso_z(first)}")

    query = {
        name: iso_z(value.astimezone(UTC))
        for name, value in (("start", first), ("end", last))
        if value is not None
    }
    suffix = f"?{urlencode(query, safe=':')}" if query else ""
    return f"/channels/{channel_id}/plot.png{suffix}"
