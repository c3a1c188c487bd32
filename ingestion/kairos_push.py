"""KairosDB-compatible push (`POST /api/v1/datapoints`): decode, validate, store.

A push is the JSON KairosDB clients send: a list of metrics (or one metric object), each
with a `name`, `tags` and either `datapoints` as ``[[ms, value], ...]`` or one
`timestamp` + `value` (both may be given). The satellite is the value of the
`satellite` tag; without one, the points go to the configured default satellite. The
channel is the metric plus its other tags (:mod:`ingestion.series_names`).

Bad points are reported as KairosDB does, as strings naming the place and the reason
(``metric[0](name=SCH.M1).datapoints[3].value: 'abc' is not a number``); the good
points of the same push are stored.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ingestion.errors import PushFormatError, PushTooLargeError
from ingestion.pipeline import IngestReport, Pipeline, StoredChannel
from ingestion.push import EARLIEST, LATEST, MAX_CHANNEL_CHARS, has_control_characters, parse_value
from ingestion.series_names import channel_name

logger = logging.getLogger(__name__)

MAX_SATELLITE_CHARS = 200
MAX_REPORTED_ERRORS = 100
EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
LATEST_MS = int(LATEST.timestamp() * 1000)
NUMERIC_TYPES = frozenset({"long", "double", "number", "float", "int", "integer"})


@dataclass
class ParsedPush:
    """Valid points per satellite as frames (ts UTC, channel, value) and the errors."""

    points: dict[str, pd.DataFrame]
    received: int
    errors: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """How many points passed validation."""
        return sum(len(frame) for frame in self.points.values())


@dataclass
class PushResult:
    """What a push stored and found."""

    received: int
    accepted: int
    rejected: int
    inserted: int
    anomalies_new: int
    errors: list[str]
    reports: list[IngestReport]


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> Any:
    """The JSON of a request body, gunzipped when sent with `Content-Encoding: gzip`."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, max_bytes + 1)
        except zlib.error as error:
            raise PushFormatError([f"body: not valid gzip ({error})"]) from None
        if not inflater.eof and not inflater.unconsumed_tail:
            raise PushFormatError(["body: gzip stream is truncated"])
    elif encoding != "identity":
        raise PushFormatError([f"Content-Encoding: {encoding!r} is not supported; use gzip"])
    if len(raw) > max_bytes:
        raise PushTooLargeError([f"body: more than {max_bytes} bytes (after decompression)"])
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise PushFormatError([f"body: not valid JSON ({error})"]) from None


def count_points(payload: Any) -> int:
    """How many datapoints a push carries, before validation."""
    metrics = payload if isinstance(payload, list) else [payload]
    total = 0
    for metric in metrics:
        if isinstance(metric, dict):
            points = metric.get("datapoints")
            total += len(points) if isinstance(points, list) else 0
            total += 1 if "timestamp" in metric or "value" in metric else 0
    return total


def parse_push(
    payload: Any,
    *,
    default_satellite: str = "default",
    satellite_tag: str = "satellite",
    max_points: int = 100_000,
) -> ParsedPush:
    """Check a KairosDB push; good points are kept, bad ones reported by place."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise PushFormatError(["body: expected a list of metrics [{name, datapoints, tags}]"])
    received = count_points(payload)
    if received > max_points:
        raise PushTooLargeError(
            [f"body: {received} datapoints in one push, at most {max_points}; split it"]
        )

    rows: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    errors: list[str] = []
    for position, metric in enumerate(payload):
        _parse_metric(metric, position, default_satellite, satellite_tag, rows, errors)

    points = {satellite: _frame(items) for satellite, items in rows.items()}
    return ParsedPush(points=points, received=received, errors=errors)


def _parse_metric(
    metric: Any,
    position: int,
    default_satellite: str,
    satellite_tag: str,
    rows: dict[str, list[tuple[int, str, float]]],
    errors: list[str],
) -> None:
    where = f"metric[{position}]"
    if not isinstance(metric, dict):
        errors.append(f"{where}: expected an object {{name, datapoints, tags}}")
        return
    name = metric.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}.name: expected a non-empty string")
        return
    where = f"{where}(name={name[:80]})"
    tags = metric.get("tags", {})
    if tags is None:
        tags = {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in tags.items()
    ):
        errors.append(f"{where}.tags: expected an object of non-empty string values")
        return
    if has_control_characters(name) or any(
        has_control_characters(k) or has_control_characters(v) for k, v in tags.items()
    ):
        errors.append(f"{where}: name or tags contain control characters")
        return
    satellite = tags.get(satellite_tag, default_satellite)
    channel = channel_name(name.strip(), tags, satellite_tag)
    if len(channel) > MAX_CHANNEL_CHARS or len(satellite) > MAX_SATELLITE_CHARS:
        errors.append(f"{where}.tags: name and tags longer than {MAX_CHANNEL_CHARS} chars")
        return
    kind = metric.get("type")
    if kind is not None and str(kind).lower() not in NUMERIC_TYPES:
        errors.append(f"{where}.type: {kind!r} is not stored; only numeric metrics are")
        return

    candidates: list[tuple[str, Any, Any]] = []
    datapoints = metric.get("datapoints")
    if datapoints is not None:
        if not isinstance(datapoints, list):
            errors.append(f"{where}.datapoints: expected a list of [ms, value]")
        else:
            for index, item in enumerate(datapoints):
                if not isinstance(item, list) or len(item) != 2:
                    errors.append(f"{where}.datapoints[{index}]: expected [ms, value]")
                    continue
                candidates.append((f"{where}.datapoints[{index}]", item[0], item[1]))
    if "timestamp" in metric or "value" in metric:
        candidates.append((where, metric.get("timestamp"), metric.get("value")))
    elif datapoints is None:
        errors.append(f"{where}.datapoints: missing; give datapoints or timestamp and value")

    for place, raw_ts, raw_value in candidates:
        ts_field = f"{place}[0]" if place != where else f"{where}.timestamp"
        value_field = f"{place}[1]" if place != where else f"{where}.value"
        try:
            ms = _parse_ms(raw_ts)
        except ValueError as error:
            errors.append(f"{ts_field}: {error}")
            continue
        try:
            value = parse_value(raw_value)
        except ValueError as error:
            errors.append(f"{value_field}: {error}")
            continue
        rows[satellite].append((ms, channel, value))


def _parse_ms(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{str(raw)[:40]!r} is not epoch milliseconds")
    if not math.isfinite(raw):
        raise ValueError("epoch milliseconds must be finite")
    if not EARLIEST_MS <= raw < LATEST_MS:
        raise ValueError(f"{int(raw)} ms is outside 1970-01-01..2100-01-01")
    return int(raw)


def _frame(items: list[tuple[int, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(items, columns=["ms", "channel", "value"])
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(frame["ms"].astype("int64"), unit="ms", utc=True),
            "channel": frame["channel"].astype(str),
            "value": frame["value"].astype(float),
        }
    )


def store_push(
    pipeline: Pipeline,
    parsed: ParsedPush,
    source: str = "kairosdb-push",
    tenant: str | None = None,
    queue: list[StoredChannel] | None = None,
) -> PushResult:
    """Ingest the valid points of a push, satellite by satellite, under `tenant`.

    With a `queue` list the points are only stored, marked as owed detection, and their
    channels appended to `queue` for the background stage; otherwise they are detected.
    """
    reports = [
        pipeline.ingest(
            satellite, frame, source=source, tenant=tenant, detect=queue is None, queue=queue
        )
        for satellite, frame in sorted(parsed.points.items())
    ]
    rejected = parsed.received - parsed.accepted
    if parsed.errors:
        logger.warning(
            "KairosDB push: %d of %d points rejected, e.g. %s",
            rejected,
            parsed.received,
            parsed.errors[0],
        )
    return PushResult(
        received=parsed.received,
        accepted=parsed.accepted,
        rejected=rejected,
        inserted=sum(r.inserted for r in reports),
        anomalies_new=sum(r.anomalies_new for r in reports),
        errors=parsed.errors[:MAX_REPORTED_ERRORS],
        reports=reports,
    )
