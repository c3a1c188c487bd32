"""Reports per satellite and period: incidents, anomalies per channel with plots,
forecasts near limits and operator annotations, as HTML (and PDF when WeasyPrint is
installed). Reports written to disk live under ``IMON_HOME/reports`` and are pruned
after ``IMON_REPORT_RETENTION_DAYS``.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from agent import catalog
from agent.context import ToolContext
from agent.errors import AgentError
from agent.tools_models import forecast
from app.plots import channel_plot
from store import channel_models, queries
from store.annotations import annotations_of
from store.errors import NotFoundError
from store.incidents import list_incidents
from store.vector import iso_z

logger = logging.getLogger(__name__)

REPORTS_DIR = "reports"
#: Anomalies listed per channel at most.
MAX_ANOMALIES_PER_CHANNEL = 50
_PERIOD = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class ReportError(ValueError):
    """A report cannot be built from the arguments given."""


@dataclass(frozen=True)
class Report:
    """A rendered report."""

    satellite: str
    start: datetime
    end: datetime
    html: str


def parse_period(text: str) -> timedelta:
    """``"7d"``, ``"24h"``, ``"2w"`` as a timedelta; ReportError otherwise."""
    match = _PERIOD.match(text or "")
    if match is None or int(match.group(1)) == 0:
        raise ReportError(f"period={text!r} is not like '24h', '7d' or '2w'")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def build_report(ctx: ToolContext, satellite: str, period: str, *, plots: bool = True) -> Report:
    """The report of ``satellite`` over the ``period`` before ``ctx.now()``."""
    span = parse_period(period)
    end = ctx.utc_now()
    start = end - span
    with Session(ctx.engine) as session:
        names = [name for _, name in catalog.satellites(session, ctx.tenant)]
        if satellite not in names:
            raise NotFoundError(f"unknown satellite '{satellite}'")
        channels = queries.list_channels(session, satellite)
        incidents, _ = list_incidents(session, satellite=satellite, limit=200)
        incidents = [i for i in incidents if i.end >= start and i.start <= end]
        sections = [_channel_section(session, c, start, end, plots) for c in channels]
    forecasts = _forecasts(ctx, satellite, channels)
    context = {
        "satellite": satellite,
        "period": period,
        "start": iso_z(start),
        "end": iso_z(end),
        "generated": iso_z(end),
        "incidents": incidents,
        "channels": sections,
        "forecasts": forecasts,
        "anomaly_total": sum(len(s["anomalies"]) for s in sections),
        "annotations": [a for s in sections for a in s["annotations"]],
    }
    return Report(
        satellite, start, end, _environment().get_template("report.html").render(**context)
    )


def _channel_section(
    session: Session, channel: queries.ChannelView, start: datetime, end: datetime, plots: bool
) -> dict[str, Any]:
    anomalies, total = queries.list_anomalies(
        session, channel_ids=[channel.id], start=start, end=end, limit=MAX_ANOMALIES_PER_CHANNEL
    )
    notes = annotations_of(session, [a.id for a in anomalies]) if anomalies else []
    plot = None
    if plots and anomalies:
        plot = base64.b64encode(channel_plot(session, channel.id, start, end)).decode("ascii")
    model = channel_models.active_model(session, channel.id)
    return {
        "name": channel.name,
        "unit": channel.unit,
        "anomalies": anomalies,
        "total": total,
        "plot": plot,
        "model_version": model.version if model else None,
        "annotations": [
            {
                "anomaly_id": n.anomaly_id,
                "author": n.author,
                "text": n.text,
                "label": n.label,
                "created_at": iso_z(n.created_at),
                "channel": channel.name,
            }
            for n in notes
        ],
    }


def _forecasts(
    ctx: ToolContext, satellite: str, channels: list[queries.ChannelView]
) -> list[dict[str, Any]]:
    """Limit crossings the forecasts put within a week (channels with limits only)."""
    rows = []
    for channel in channels:
        with Session(ctx.engine) as session:
            if channel_models.limits_of(session, channel.id) is None:
                continue
        try:
            result = forecast(ctx, channel_id=channel.id, horizon="7d")
        except AgentError as error:
            logger.info("no forecast of %s/%s: %s", satellite, channel.name, error)
            continue
        for item in result["crossings"]:
            if item["earliest"] is not None:
                rows.append(
                    {
                        "channel": channel.name,
                        "unit": channel.unit,
                        **item,
                        "horizon_end": result["horizon_end"],
                    }
                )
    return rows


def _iso(value: Any) -> str:
    return iso_z(value) if isinstance(value, datetime) else str(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["iso"] = _iso
    return env


def to_pdf(html: str) -> bytes | None:
    """The report as PDF through WeasyPrint, or None when WeasyPrint is not installed."""
    try:
        from weasyprint import HTML  # type: ignore[import-not-found]
    except ImportError:
        return None
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def save_report(home: Path, report: Report) -> Path:
    """Write the report under ``home/reports``; return its path."""
    folder = home / REPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = pd.Timestamp(report.end).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", report.satellite)
    path = folder / f"{safe}-{stamp}.html"
    path.write_text(report.html)
    return path


def prune_reports(home: Path, retention_days: float, now: float | None = None) -> int:
    """Delete saved reports older than ``retention_days``; return how many were deleted."""
    folder = home / REPORTS_DIR
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - retention_days * 86400
    removed = 0
    for path in folder.glob("*.*"):
        if path.suffix in (".html", ".pdf") and path.stat().st_mtime < cutoff:
            path.unlink()
            removed += 1
    if removed:
        logger.info("pruned %d reports older than %s days", removed, retention_days)
    return removed
