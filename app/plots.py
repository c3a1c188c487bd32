"""Channel plots as PNG (matplotlib, Agg backend), drawn from downsampled series.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot: they render
through the Agg canvas, touch no GUI backend and keep no global state between requests.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib.dates as mdates
from matplotlib.figure import Figure
from sqlmodel import Session

from store import queries
from store.queries import AnomalyView
from store.series import ChannelHeader, Series, channel_series
from store.vector import iso_z

#: Buckets drawn across the plot: about two per horizontal pixel.
PLOT_BUCKETS = 1600
WIDTH_IN, HEIGHT_IN, DPI = 10.0, 4.0, 100
SEVERITY_COLOURS = {
    "low": "#f2d16b",
    "medium": "#f0a04b",
    "high": "#e4572e",
    "critical": "#b0172a",
}


def render_png(channel: ChannelHeader, series: Series, anomalies: Sequence[AnomalyView]) -> bytes:
    """A PNG of the series (min/max envelope when bucketed) with anomaly windows shaded."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    axes = figure.subplots()
    frame = series.frame
    ts = frame["ts"].dt.tz_convert(UTC).dt.tz_localize(None).to_numpy()

    # data: a line for raw points, an envelope (min..max per bucket) otherwise
    if len(frame) and series.bucket_s > 0:
        axes.fill_between(ts, frame["min"], frame["max"], color="#1f77b4", alpha=0.35, lw=0)
        axes.plot(ts, (frame["min"] + frame["max"]) / 2, color="#1f77b4", lw=0.6)
    elif len(frame):
        axes.plot(ts, frame["min"], color="#1f77b4", lw=0.9)
    else:
        axes.text(0.5, 0.5, "no points in this period", ha="center", transform=axes.transAxes)

    for anomaly in anomalies:
        start = max(anomaly.start, series.start).astimezone(UTC).replace(tzinfo=None)
        end = min(anomaly.end, series.end).astimezone(UTC).replace(tzinfo=None)
        axes.axvspan(
            start,  # type: ignore[arg-type]
            end,  # type: ignore[arg-type]
            color=SEVERITY_COLOURS.get(anomaly.severity, "#e4572e"),
            alpha=0.3,
            lw=0,
        )

    unit = f" [{channel.unit}]" if channel.unit else ""
    axes.set_title(f"{channel.satellite} / {channel.name}{unit}")
    axes.set_ylabel(channel.unit or "value")
    axes.set_xlabel(f"UTC, {iso_z(series.start)} to {iso_z(series.end)}")
    axes.set_xlim(
        series.start.astimezone(UTC).replace(tzinfo=None),  # type: ignore[arg-type]
        series.end.astimezone(UTC).replace(tzinfo=None),  # type: ignore[arg-type]
    )
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3)
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def channel_plot(
    session: Session, channel_id: int, start: datetime | None, end: datetime | None
) -> bytes:
    """The PNG plot of a channel over [start, end]; errors as `store.series.channel_series`."""
    header, series = channel_series(session, channel_id, start, end, PLOT_BUCKETS)
    anomalies, _ = queries.list_anomalies(
        session, channel_ids=[channel_id], start=series.start, end=series.end, limit=1000
    )
    return render_png(header, series, anomalies)
