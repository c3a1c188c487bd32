"""KairosDB-compatible read-back (`POST /api/v1/datapoints/query`) from the store.

Supported: `start_absolute` / `start_relative`, `end_absolute` / `end_relative` (default
now), and per metric `name`, `tags` (a value or a list of values per tag, any of which
matches), `limit` and `order`. As in KairosDB without `group_by`, every series matching
a metric is merged into one result whose `tags` list the values seen. The satellite is
exposed as the `satellite` tag. Aggregators and `group_by` are refused with a clear error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlmodel import Session

from ingestion.errors import PushFormatError, PushTooLargeError
from ingestion.series_names import parse_channel_name
from store import queries

TIME_UNITS = ("milliseconds", "seconds", "minutes", "hours", "days", "weeks", "months", "years")
UNSUPPORTED = ("aggregators", "group_by")
EPOCH = pd.Timestamp(0, tz="UTC")
TIMEDELTA_UNITS: dict[str, Any] = {
    "milliseconds": "ms",
    "seconds": "s",
    "minutes": "min",
    "hours": "h",
    "days": "D",
    "weeks": "W",
}


@dataclass(frozen=True)
class MetricQuery:
    """One metric of a query: its name, tag filters, and how many points, in what order."""

    name: str
    tags: dict[str, list[str]]
    limit: int | None = None
    descending: bool = False


@dataclass(frozen=True)
class DatapointsQuery:
    """A parsed query: an inclusive time range and its metrics."""

    start: datetime
    end: datetime
    metrics: list[MetricQuery]


def parse_query(payload: Any, now: datetime) -> DatapointsQuery:
    """Check a KairosDB query body; every problem is named in the error."""
    if not isinstance(payload, dict):
        raise PushFormatError(["body: expected an object {start_absolute, metrics}"])
    errors: list[str] = []
    start = _time(payload, "start", now, errors, required=True)
    end = _time(payload, "end", now, errors, required=False) or now
    metrics_raw = payload.get("metrics")
    metrics: list[MetricQuery] = []
    if not isinstance(metrics_raw, list) or not metrics_raw:
        errors.append("metrics: expected a non-empty list of {name, tags}")
    else:
        for position, item in enumerate(metrics_raw):
            metric = _metric(item, f"metrics[{position}]", errors)
            if metric is not None:
                metrics.append(metric)
    if start is not None and start > end:
        errors.append("start_absolute: after the end of the range")
    if errors or start is None:
        raise PushFormatError(errors)
    return DatapointsQuery(start=start, end=end, metrics=metrics)


def _time(
    payload: dict[str, Any], prefix: str, now: datetime, errors: list[str], required: bool
) -> datetime | None:
    absolute, relative = payload.get(f"{prefix}_absolute"), payload.get(f"{prefix}_relative")
    if absolute is not None:
        if isinstance(absolute, bool) or not isinstance(absolute, int | float):
            errors.append(f"{prefix}_absolute: expected epoch milliseconds, got {absolute!r}")
            return None
        if not math.isfinite(absolute) or not 0 <= absolute < 4_102_444_800_000:
            errors.append(f"{prefix}_absolute: {absolute!r} is outside 1970..2100")
            return None
        return datetime.fromtimestamp(absolute / 1000.0, UTC)
    if relative is not None:
        value = relative.get("value") if isinstance(relative, dict) else None
        unit = relative.get("unit") if isinstance(relative, dict) else None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(f"{prefix}_relative.value: expected a non-negative integer")
            return None
        if not isinstance(unit, str) or unit.lower() not in TIME_UNITS:
            errors.append(f"{prefix}_relative.unit: expected one of {', '.join(TIME_UNITS)}")
            return None
        unit = unit.lower()
        if unit == "years":
            moment = pd.Timestamp(now) - pd.DateOffset(years=value)
        elif unit == "months":
            moment = pd.Timestamp(now) - pd.DateOffset(months=value)
        else:
            moment = pd.Timestamp(now) - pd.Timedelta(value, unit=TIMEDELTA_UNITS[unit])
        return moment.to_pydatetime()
    if required:
        errors.append(f"{prefix}_absolute: missing; give {prefix}_absolute or {prefix}_relative")
    return None


def _metric(item: Any, where: str, errors: list[str]) -> MetricQuery | None:
    if not isinstance(item, dict):
        errors.append(f"{where}: expected an object {{name, tags}}")
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{where}.name: expected a non-empty string")
        return None
    for key in UNSUPPORTED:
        if item.get(key):
            errors.append(f"{where}.{key}: not supported by this service; query raw points")
            return None
    tags: dict[str, list[str]] = {}
    raw_tags = item.get("tags") or {}
    if not isinstance(raw_tags, dict):
        errors.append(f"{where}.tags: expected an object of tag -> value or [values]")
        return None
    for key, value in raw_tags.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            errors.append(f"{where}.tags.{key}: expected a string or a list of strings")
            return None
        tags[key] = values
    limit = item.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        errors.append(f"{where}.limit: expected a positive integer")
        return None
    order = item.get("order", "asc")
    if order not in ("asc", "desc"):
        errors.append(f"{where}.order: expected 'asc' or 'desc'")
        return None
    return MetricQuery(name=name, tags=tags, limit=limit, descending=order == "desc")


def run_query(
    session: Session,
    query: DatapointsQuery,
    *,
    satellite_tag: str = "satellite",
    max_points: int = 1_000_000,
) -> dict[str, Any]:
    """The KairosDB answer `{"queries": [{"sample_size", "results": [...]}]}` from the store."""
    answers = []
    budget = max_points
    for position, metric in enumerate(query.metrics):
        result, read = _one_metric(session, query, metric, satellite_tag, budget, position)
        budget -= read
        answers.append({"sample_size": read, "results": [result]})
    return {"queries": answers}


def _one_metric(
    session: Session,
    query: DatapointsQuery,
    metric: MetricQuery,
    satellite_tag: str,
    budget: int,
    position: int,
) -> tuple[dict[str, Any], int]:
    frames: list[pd.DataFrame] = []
    seen: dict[str, set[str]] = {}
    read = 0
    for channel_id, satellite, name in queries.channels_of_metric(session, metric.name):
        base, tags = parse_channel_name(name)
        tags[satellite_tag] = satellite
        if base != metric.name or any(tags.get(k) not in v for k, v in metric.tags.items()):
            continue
        points = queries.channel_points(
            session, channel_id, query.start, query.end, limit=budget - read + 1
        )
        read += len(points)
        if read > budget:
            raise PushTooLargeError(
                [f"metrics[{position}]: more than {budget} points in range; narrow it"]
            )
        if points.empty:
            continue
        frames.append(points)
        for key, value in tags.items():
            seen.setdefault(key, set()).add(value)

    values: list[list[Any]] = []
    if frames:
        merged = pd.concat(frames).sort_values(
            "ts", kind="stable", ascending=not metric.descending
        )
        if metric.limit is not None:
            merged = merged.iloc[: metric.limit]
        ms = (merged["ts"] - EPOCH) // pd.Timedelta(milliseconds=1)
        values = [[int(t), float(v)] for t, v in zip(ms, merged["value"], strict=True)]
    result = {
        "name": metric.name,
        "group_by": [{"name": "type", "type": "number"}],
        "tags": {key: sorted(found) for key, found in sorted(seen.items())},
        "values": values,
    }
    return result, read


def metric_names(session: Session, prefix: str | None = None) -> list[str]:
    """Distinct metric names of the stored channels, optionally starting with `prefix`."""
    names = {parse_channel_name(name)[0] for name in queries.channel_names(session)}
    return sorted(n for n in names if prefix is None or n.startswith(prefix))
