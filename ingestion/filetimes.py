"""Time handling for telemetry files: find the time column and turn its cells into UTC times.

Naive times are UTC unless a zone is given; local times that do not exist or occur twice at a
DST change are rejected. Numeric times are Unix epochs whose unit is detected from their
magnitude unless given. Files without a time column get ``start + i * cadence``. Every time
must fall in ``[MIN_TS, MAX_TS)``. Bad cells become NaT and are reported to a
:class:`RowErrorSink`, so one bad row never stops the others.
"""

from __future__ import annotations

import logging
import re
import warnings
import zoneinfo
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingestion.errors import InvalidOptionError, TelemetryFileError

__all__ = [
    "MAX_TS",
    "MIN_TS",
    "MISSING_CELLS",
    "TIME_COLUMN_NAMES",
    "TIME_UNITS",
    "RowErrorSink",
    "check_range",
    "find_time_column",
    "index_times",
    "missing_time_reason",
    "norm_name",
    "parse_times",
    "parse_zone",
]

logger = logging.getLogger(__name__)

TIME_COLUMN_NAMES = ("timestamp", "time", "ts", "date", "datetime", "epoch", "utc")
TIME_UNITS = ("s", "ms", "us", "ns")
MIN_TS = pd.Timestamp("1970-01-01", tz="UTC")  # earliest accepted time (inclusive)
MAX_TS = pd.Timestamp("2100-01-01", tz="UTC")  # latest accepted time (exclusive)
MISSING_CELLS = frozenset({"", "na", "n/a", "null", "none", "-"})  # lower-cased cell texts
_AWARE = re.compile(
    r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)
_YEAR = re.compile(r"^\s*(\d{4})-")
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_RANGE = "timestamp out of range (accepted: 1970-01-01 to 2100-01-01 UTC)"
_DST = "at the DST change); give the time in UTC or with an offset"


class RowErrorSink(Protocol):
    """Where bad cells go: ``ingestion.files`` passes its error collector."""

    def add(
        self,
        mask: pd.Series | NDArray[np.bool_],
        raw: pd.Series,
        field_name: str,
        reason: str | pd.Series,
    ) -> None:
        """Record the rows where ``mask`` is true; ``reason`` may vary per row (a Series)."""


def parse_zone(path: Path, tz: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone of naive times, or None for UTC; an unknown name is an InvalidOptionError."""
    if tz is None or tz.upper() == "UTC":
        return None
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidOptionError(
            path, f"unknown time zone {tz!r}; use an IANA name such as Europe/Paris or UTC"
        ) from exc


def missing_time_reason(fmt: str) -> str:
    """Why a file of format ``fmt`` has no usable times, and which options fix it."""
    if fmt in ("npy", "txt"):
        return f"a .{fmt} file has no timestamps; pass --start and --cadence"
    looked = ", ".join(TIME_COLUMN_NAMES)
    return f"no time column found (looked for {looked}); pass --time-column or --start/--cadence"


def norm_name(name: str) -> str:
    """A column name lower-cased, with runs of other characters replaced by ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def find_time_column(path: Path, table: pd.DataFrame, wanted: str | None) -> str | None:
    """The time column: ``wanted``, else by name, by dtype, or a first column of dates."""
    names = [str(c) for c in table.columns]
    if wanted is not None:
        if wanted not in names:
            raise TelemetryFileError(
                path, f"time column {wanted!r} not found; columns: {', '.join(names)}"
            )
        return wanted
    normed = {name: norm_name(name) for name in names}
    for name in names:
        if normed[name] in TIME_COLUMN_NAMES:
            return name
    for name in names:
        if set(normed[name].split("_")) & set(TIME_COLUMN_NAMES):
            return name
    for name in names:
        if pd.api.types.is_datetime64_any_dtype(table[name]):
            return name
    first = table[names[0]]
    if first.dtype == object:
        sample = first.astype(str).str.strip()
        sample = sample[sample != ""].head(50)
        if len(sample) and pd.to_numeric(sample, errors="coerce").isna().all():
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
            if parsed.notna().mean() >= 0.8:
                return names[0]
    return None


def index_times(
    path: Path, n: int, start: str, cadence: str, zone: zoneinfo.ZoneInfo | None
) -> pd.Series:
    """UTC times ``start + i * cadence`` for ``n`` rows of a file without times."""
    try:
        first = pd.Timestamp(start)
    except ValueError as exc:
        raise InvalidOptionError(path, f"start must be an ISO 8601 time; got {start!r}") from exc
    try:
        step = pd.Timedelta(float(cadence), unit="s")
    except ValueError:
        try:
            with warnings.catch_warnings():  # pandas warns about renamed aliases such as M
                warnings.simplefilter("ignore", FutureWarning)
                offset = pd.tseries.frequencies.to_offset(cadence)
        except (ValueError, TypeError):
            offset = None
        if not isinstance(offset, pd.offsets.Tick):
            raise InvalidOptionError(
                path, f"cadence must be a fixed step such as 1min, 5s or 100ms; got {cadence!r}"
            ) from None
        step = pd.Timedelta(offset)
    if step <= pd.Timedelta(0):
        raise InvalidOptionError(path, f"cadence must be positive; got {cadence!r}")
    if first.tzinfo is None:
        key = zone.key if zone else "UTC"
        local = pd.Series([first]).dt.tz_localize(key, ambiguous="NaT", nonexistent="NaT")
        if local.isna().any():
            raise InvalidOptionError(
                path,
                f"start {start!r} is not one valid local time in {key} (DST change); "
                "give it with an offset",
            )
        first = local.iloc[0]
    first = first.tz_convert("UTC")
    return pd.Series(first + step * np.arange(n), dtype="datetime64[ns, UTC]")


def parse_times(
    raw: pd.Series,
    name: str,
    zone: zoneinfo.ZoneInfo | None,
    time_unit: str | None,
    sink: RowErrorSink,
) -> pd.Series:
    """Parse a time column to UTC; bad cells become NaT and RowErrors."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_any_dtype(raw):
        return _localize(raw.astype("datetime64[ns]"), raw, name, zone, sink)
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return _epoch(pd.to_numeric(raw).astype(float), raw, name, time_unit, sink)

    text = raw.astype(str).str.strip().where(raw.notna(), "")
    missing = text.str.lower().isin(MISSING_CELLS)
    sink.add(missing, raw, name, "timestamp is missing")
    numbers = pd.to_numeric(text, errors="coerce")
    filled = ~missing
    if filled.any() and numbers[filled].notna().mean() >= 0.9:
        sink.add(
            filled & ~np.isfinite(numbers),
            raw,
            name,
            "timestamp is not a finite number (the other rows hold epoch times)",
        )
        return _epoch(numbers.where(filled), raw, name, time_unit, sink, report_nan=False)

    aware = text.str.contains(_AWARE) & filled
    naive = filled & ~aware
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    unparsed = pd.Series(False, index=raw.index)
    if aware.any():
        out[aware] = _to_datetime(text[aware], utc=True)
        unparsed |= aware & out.isna()
    if naive.any():
        local = _to_datetime(text[naive], utc=False)
        unparsed |= local.isna().reindex(raw.index, fill_value=False).astype(bool)
        out[naive] = _localize(local, raw[naive], name, zone, sink)
    if unparsed.any():
        sink.add(unparsed, raw, name, text.where(unparsed, "").map(_unparsed_reason))
    return out


def _to_datetime(text: pd.Series, *, utc: bool) -> pd.Series:
    out = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    retry = out.isna()
    if retry.any():
        out[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=utc)
    return out


def _unparsed_reason(text: str) -> str:
    year = _YEAR.match(text)
    if year and not 1970 <= int(year.group(1)) < 2100:
        return _RANGE
    return "timestamp could not be parsed (expected ISO 8601 such as 2024-01-31T12:00:00Z)"


def _localize(
    naive: pd.Series,
    raw: pd.Series,
    name: str,
    zone: zoneinfo.ZoneInfo | None,
    sink: RowErrorSink,
) -> pd.Series:
    """Give naive times their zone (UTC by default); DST gaps and overlaps are RowErrors."""
    if zone is None:
        return naive.dt.tz_localize("UTC")
    # A string zone uses pandas' cached transitions: ~50x faster than a ZoneInfo object.
    strict = naive.dt.tz_localize(zone.key, ambiguous="NaT", nonexistent="NaT")
    bad = naive.notna() & strict.isna()
    shifted = naive[bad].dt.tz_localize(zone.key, ambiguous="NaT", nonexistent="shift_forward")
    gap = bad & shifted.notna().reindex(naive.index, fill_value=False).astype(bool)
    sink.add(gap, raw, name, f"local time does not exist in {zone.key} (clocks jump {_DST}")
    sink.add(bad & ~gap, raw, name, f"local time is ambiguous in {zone.key} (occurs twice {_DST}")
    return strict.dt.tz_convert("UTC")


def _epoch(
    numbers: pd.Series,
    raw: pd.Series,
    name: str,
    time_unit: str | None,
    sink: RowErrorSink,
    *,
    report_nan: bool = True,
) -> pd.Series:
    """Convert Unix epoch numbers to UTC times, detecting the unit from their magnitude."""
    finite = np.isfinite(numbers)
    if report_nan:
        sink.add(~finite, raw, name, "timestamp is not a finite number")
    unit = time_unit or _epoch_unit(numbers[finite])
    logger.info("time column %r holds epoch times in unit %s", name, unit)
    scale = _UNIT_NS[unit]
    limit = MAX_TS.value / scale
    out_of_range = finite & ((numbers < 0) | (numbers >= limit))
    sink.add(out_of_range, raw, name, f"{_RANGE} for epoch {unit}")
    ok = finite & ~out_of_range
    ns = np.zeros(len(numbers), dtype=np.int64)
    ns[ok.to_numpy()] = np.round(numbers[ok].to_numpy(dtype=float) * scale).astype(np.int64)
    out = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=raw.index)
    return out.where(ok)


def _epoch_unit(numbers: pd.Series) -> str:
    magnitude = float(np.median(np.abs(numbers))) if len(numbers) else 0.0
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    return "us" if magnitude < 1e17 else "ns"


def check_range(ts: pd.Series, raw: pd.Series, name: str, sink: RowErrorSink) -> pd.Series:
    """Times outside ``[MIN_TS, MAX_TS)`` become NaT and RowErrors."""
    outside = ts.notna() & ((ts < MIN_TS) | (ts >= MAX_TS))
    sink.add(outside, raw, name, _RANGE)
    return ts.where(~outside)
