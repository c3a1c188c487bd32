"""Validation of points pushed over HTTP: bad points are reported, good ones kept."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
LATEST_MS = int(LATEST.timestamp() * 1000)
MAX_CHANNEL_CHARS = 300


@dataclass
class PushValidation:
    """Accepted points as a frame (ts UTC, channel, value) and one error per bad point."""

    points: pd.DataFrame
    errors: list[dict[str, Any]] = field(default_factory=list)


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (newline, NUL, escape, ...)."""
    return any(ord(char) < 32 or 127 <= ord(char) < 160 for char in text)


def parse_timestamp(raw: Any) -> datetime:
    """An ISO 8601 string with a zone, or epoch milliseconds, as a UTC datetime."""
    if isinstance(raw, bool):
        raise ValueError("expected an ISO 8601 string with a zone or epoch milliseconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("epoch milliseconds must be finite")
        try:
            value = datetime.fromtimestamp(raw / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(
                f"{raw!r} ms is outside 1970-01-01..2100-01-01 as epoch milliseconds"
            ) from None
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{raw[:40]!r} is not an ISO 8601 timestamp") from None
        if value.tzinfo is None:
            raise ValueError(f"{raw[:40]!r} has no time zone; add Z or an offset such as +02:00")
        value = value.astimezone(UTC)
    else:
        raise ValueError("expected an ISO 8601 string with a zone or epoch milliseconds")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"{value.isoformat()} is outside 1970-01-01..2100-01-01")
    return value


def parse_value(raw: Any) -> float:
    """A finite float from a JSON number or numeric string."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError("expected a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{str(raw)[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not finite; NaN and infinity are not stored")
    return value


def _epoch_ns(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1) * 1000


def _timestamp_ns(raw: Any) -> int:
    """`parse_timestamp` as epoch nanoseconds; whole epoch milliseconds take a short path."""
    if type(raw) is int and EARLIEST_MS <= raw < LATEST_MS:
        return raw * 1_000_000
    return _epoch_ns(parse_timestamp(raw))


def _channel_error(channel: str) -> str | None:
    if not channel.strip():
        return "expected a non-empty string"
    if has_control_characters(channel):
        return "contains control characters"
    if len(channel) > MAX_CHANNEL_CHARS:
        return f"longer than {MAX_CHANNEL_CHARS} chars"
    return None


def validate_points(items: list[Any], field_name: str = "points") -> PushValidation:
    """Check each pushed point; the good ones are kept, the bad ones reported by index.

    A channel name is checked once per push (pushes repeat a few names many times).
    """
    stamps: list[int] = []
    channels: list[str] = []
    values: list[float] = []
    errors: list[dict[str, Any]] = []
    checked: dict[str, str | None] = {}
    for position, item in enumerate(items):
        where = f"{field_name}[{position}]"
        if not isinstance(item, dict):
            errors.append({"field": where, "reason": "expected an object {channel, ts, value}"})
            continue
        channel = item.get("channel")
        if not isinstance(channel, str):
            problem: str | None = "expected a non-empty string"
        elif channel in checked:
            problem = checked[channel]
        else:
            problem = checked[channel] = _channel_error(channel)
        if problem is not None or not isinstance(channel, str):
            errors.append({"field": f"{where}.channel", "reason": str(problem)})
            continue
        try:
            ts = _timestamp_ns(item.get("ts"))
        except ValueError as error:
            errors.append({"field": f"{where}.ts", "reason": str(error)})
            continue
        try:
            value = parse_value(item.get("value"))
        except ValueError as error:
            errors.append({"field": f"{where}.value", "reason": str(error)})
            continue
        stamps.append(ts)
        channels.append(channel.strip())
        values.append(value)
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(np.asarray(stamps, dtype=np.int64), unit="ns", utc=True),
            "channel": pd.Series(channels, dtype=object),
            "value": np.asarray(values, dtype=float),
        }
    )
    return PushValidation(frame, errors)
