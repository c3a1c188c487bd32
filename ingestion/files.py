"""Read telemetry files (CSV, Parquet, NumPy ``.npy``, plain ``.txt``) into one long table.

Every read returns a :class:`ParsedFile` whose ``points`` have the columns ``ts``
(``datetime64[ns, UTC]``), ``channel`` (str) and ``value`` (float64), sorted by channel
then time. A bad record never stops the good ones: each unparseable, missing, DST-invalid
or out-of-range timestamp and each non-numeric, missing, NaN or infinite value becomes a
:class:`RowError` naming the row and the column, and the rest of the file is kept.

Layouts: **long** (a time column, a channel column such as ``channel``/``metric``/
``name``/``series``/``sensor`` and one value column); **wide** (a time column plus every
numeric column as a channel); **index** (no time column: ``.npy``, ``.txt`` or a CSV
without one; times are ``start + i * cadence``, both required).

Naive times are UTC unless ``tz`` names an IANA zone; times with ``Z`` or an offset are
converted to UTC; numeric times are Unix epochs whose unit (s, ms, us, ns) is detected
from their magnitude unless ``time_unit`` is given. Duplicate timestamps within a channel
keep the first finite value in file order; the others are counted in
``duplicates_dropped``. Unsorted rows are sorted and counted in ``out_of_order``.

Row numbers are 1-based data rows as the user sees them: in a CSV with one header line,
row ``n`` is line ``n + 1`` (blank lines count); in a ``.txt`` file, the n-th number.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingestion.errors import (
    EmptyFileError,
    InvalidOptionError,
    MissingTimeError,
    TelemetryFileError,
    UnsupportedFormatError,
)
from ingestion.filetimes import MAX_TS as MAX_TS
from ingestion.filetimes import MIN_TS as MIN_TS
from ingestion.filetimes import (
    MISSING_CELLS,
    TIME_UNITS,
    check_range,
    find_time_column,
    index_times,
    missing_time_reason,
    norm_name,
    parse_times,
    parse_zone,
)
from ingestion.filetimes import TIME_COLUMN_NAMES as TIME_COLUMN_NAMES

__all__ = ["SUPPORTED_EXTENSIONS", "ParsedFile", "RowError", "read_telemetry"]

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".npy": "npy", ".txt": "txt",
}  # fmt: skip
CHANNEL_COLUMN_NAMES = tuple(
    "channel metric name series sensor parameter signal variable channel_name metric_name "
    "series_id sensor_id".split()
)
VALUE_COLUMN_NAMES = ("value", "val", "reading", "measurement", "y")
MAX_ERRORS = 1000  # RowErrors kept per file; all are still counted in error_count
NUMERIC_SHARE = 0.5  # a text column is a channel when this share of its cells are numbers
_REPR_MAX = 60  # characters of a bad value shown in a RowError


@dataclass(frozen=True)
class RowError:
    """One bad record: where it is (row, field), why it was rejected and what it held."""

    row: int | None
    field: str
    reason: str
    value: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        return f"{where}, field {self.field!r}: {self.reason} (got {self.value})"


@dataclass
class ParsedFile:
    """The result of reading one telemetry file: the good points and the rejected records."""

    path: Path
    format: str
    layout: str
    points: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rows_read: int = 0
    duplicates_dropped: int = 0
    out_of_order: int = 0
    time_column: str | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        """Channel names present in ``points``, sorted."""
        return sorted(self.points["channel"].unique().tolist())

    def summary(self) -> str:
        """One sentence for logs and the CLI."""
        return (
            f"{self.path.name}: {self.rows_read} rows read ({self.layout} {self.format}), "
            f"{len(self.points)} points on {len(self.channels)} channels, "
            f"{self.error_count} bad values, {self.duplicates_dropped} duplicates dropped, "
            f"{self.out_of_order} out of order"
            + (
                f", non-numeric columns ignored: {', '.join(self.ignored_columns)}"
                if self.ignored_columns
                else ""
            )
        )


class _ErrorSink:
    """Counts every bad cell and keeps the first ``limit`` of them as RowErrors."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.errors: list[RowError] = []

    def add(
        self,
        mask: pd.Series | NDArray[np.bool_],
        raw: pd.Series,
        field_name: str,
        reason: str | pd.Series,
    ) -> None:
        """Record the rows where ``mask`` is true; ``reason`` may vary per row (a Series)."""
        hits = np.asarray(mask, dtype=bool)
        self.count += int(hits.sum())
        room = max(self.limit - len(self.errors), 0)
        rows = raw.index.to_numpy()[hits][:room]
        cells = raw.to_numpy()[hits][:room]
        why = [reason] * len(rows) if isinstance(reason, str) else reason[hits][:room].tolist()
        for row, cell, text in zip(rows, cells, why, strict=True):
            self.errors.append(RowError(int(row), field_name, str(text), _short(cell)))


def _short(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= _REPR_MAX else text[: _REPR_MAX - 3] + "..."


def read_telemetry(
    path: str | Path,
    *,
    tz: str | None = None,
    time_unit: str | None = None,
    start: str | None = None,
    cadence: str | None = None,
    time_column: str | None = None,
    channel_names: Sequence[str] | None = None,
    columns: Sequence[int | str] | None = None,
    max_errors: int = MAX_ERRORS,
) -> ParsedFile:
    """Read a telemetry file into a long table of (ts, channel, value) points.

    Parameters
    ----------
    path : file to read; its extension picks the format (see ``SUPPORTED_EXTENSIONS``).
    tz : IANA zone of naive timestamps (default UTC), e.g. ``Europe/Paris``.
    time_unit : unit of numeric epoch times, one of s, ms, us, ns (default: detected).
    start, cadence : time of the first row (ISO 8601) and step between rows (pandas
        offset such as ``1min``, ``5s``, or a number of seconds) for files without times.
    time_column : name of the time column when detection picks the wrong one.
    channel_names : names for the value columns of wide and index files, in file order.
    columns : keep only these value columns (0-based positions or channel names).
    max_errors : RowErrors kept in ``errors``; ``error_count`` counts all of them.

    Raises
    ------
    UnsupportedFormatError, EmptyFileError, MissingTimeError, TelemetryFileError
        when the file as a whole cannot be read; InvalidOptionError for a bad option.
    """
    path = Path(path)
    fmt = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UnsupportedFormatError(
            path, f"unsupported extension {path.suffix!r}; supported: {supported}"
        )
    if time_unit is not None and time_unit not in TIME_UNITS:
        raise InvalidOptionError(
            path, f"time_unit must be one of {', '.join(TIME_UNITS)}; got {time_unit!r}"
        )
    zone = parse_zone(path, tz)
    if (start is None) != (cadence is None):
        raise InvalidOptionError(path, "pass both --start and --cadence, or neither")
    if not path.is_file():
        raise TelemetryFileError(path, "file not found")

    table = _LOADERS[fmt](path)
    if table.empty:
        raise EmptyFileError(path, "no data rows (the file has a header only)")
    sink = _ErrorSink(max_errors)

    tcol = find_time_column(path, table, time_column) if fmt != "txt" else None
    if tcol is None:
        if start is None or cadence is None:
            raise MissingTimeError(path, missing_time_reason(fmt))
        ts = index_times(path, len(table), start, cadence, zone).set_axis(table.index)
        layout = "index"
    else:
        if start is not None:
            logger.warning("%s: time column %r found; ignoring start/cadence", path, tcol)
        ts = parse_times(table[tcol], tcol, zone, time_unit, sink)
        layout = "wide"
    ts = check_range(ts, table[tcol] if tcol else ts, tcol or "ts", sink)

    rest = table.drop(columns=[tcol]) if tcol else table
    long_cols = _long_columns(rest) if tcol else None
    if long_cols is not None:
        if channel_names is not None:
            raise InvalidOptionError(
                path, "channel_names applies to wide or index files, not long"
            )
        frame = _long_points(path, rest, ts, long_cols, sink, columns)
        layout = "long"
        ignored: list[str] = []
    else:
        frame, ignored = _wide_points(path, rest, ts, sink, channel_names, columns)

    points, duplicates, out_of_order = _finish(frame)
    sink.errors.sort(key=lambda e: (e.row or 0, e.field))
    parsed = ParsedFile(
        path=path,
        format=fmt,
        layout=layout,
        points=points,
        errors=sink.errors,
        error_count=sink.count,
        rows_read=len(table),
        duplicates_dropped=duplicates,
        out_of_order=out_of_order,
        time_column=tcol,
        ignored_columns=ignored,
    )

    logger.info("read %s", parsed.summary())
    if parsed.error_count:
        logger.warning("%s: %d bad values; first: %s", path, parsed.error_count, parsed.errors[0])
    return parsed


# --- loaders: each returns a DataFrame of raw cells indexed by 1-based row number -------


def _load_csv(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(65536)
    if not sample.strip():
        raise EmptyFileError(path, "the file is empty")
    try:
        sep = csv.Sniffer().sniff("\n".join(sample.splitlines()[:20]), ",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError as exc:
        raise EmptyFileError(path, "the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TelemetryFileError(path, f"malformed CSV: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    blank = (frame == "").all(axis=1)
    return frame.loc[~blank]


def _load_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise TelemetryFileError(path, f"cannot read Parquet: {exc}") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _load_npy(path: Path) -> pd.DataFrame:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TelemetryFileError(path, f"cannot read NumPy array: {exc}") from exc
    if array.dtype.names:
        frame = pd.DataFrame(array)
    elif array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
        frame = pd.DataFrame({"value": array.reshape(-1)})
    elif array.ndim == 2:
        frame = pd.DataFrame(array, columns=[f"col{i}" for i in range(array.shape[1])])
    else:
        raise TelemetryFileError(path, f"expected a 1-D or 2-D array, got shape {array.shape}")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _load_txt(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        tokens = fh.read().split()
    if not tokens:
        raise EmptyFileError(path, "the file is empty")
    return pd.DataFrame({"value": tokens}, index=pd.RangeIndex(1, len(tokens) + 1))


_LOADERS = {"csv": _load_csv, "parquet": _load_parquet, "npy": _load_npy, "txt": _load_txt}


# --- from raw cells to points ----------------------------------------------------------


def _long_columns(rest: pd.DataFrame) -> tuple[str, str] | None:
    normed = {str(c): norm_name(str(c)) for c in rest.columns}
    channel = next((c for c, n in normed.items() if n in CHANNEL_COLUMN_NAMES), None)
    if channel is None:
        return None
    others = [c for c in normed if c != channel]
    value = next((c for c in others if normed[c] in VALUE_COLUMN_NAMES), None)
    if value is None and len(others) == 1:
        value = others[0]
    return None if value is None else (channel, value)


def _values(raw: pd.Series, name: str, sink: _ErrorSink | None) -> pd.Series:
    """Parse a value column to float64; bad cells become NaN and (with a sink) RowErrors."""
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64")
        if sink is not None:
            sink.add(values.isna(), raw, name, "value is NaN or missing")
            sink.add(np.isinf(values), raw, name, "value is infinite")
        return values.where(np.isfinite(values))
    text = raw.astype(str).str.strip().where(raw.notna(), "")
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    lowered = text.str.lower()
    missing = lowered.isin(MISSING_CELLS)
    if sink is not None:
        sink.add(missing, raw, name, "value is missing")
        sink.add(lowered == "nan", raw, name, "value is NaN")
        sink.add(values.isna() & ~missing & (lowered != "nan"), raw, name, "value is not a number")
        sink.add(np.isinf(values), raw, name, "value is infinite")
    return values.where(np.isfinite(values))


def _numeric_share(raw: pd.Series) -> float:
    if pd.api.types.is_numeric_dtype(raw):
        return 1.0
    sample = raw.dropna().astype(str).str.strip().head(1000)
    sample = sample[~sample.str.lower().isin(MISSING_CELLS)]
    if sample.empty:
        return 0.0
    parsed = pd.to_numeric(sample, errors="coerce")
    return float((parsed.notna() | (sample.str.lower() == "nan")).mean())


def _wide_points(
    path: Path,
    rest: pd.DataFrame,
    ts: pd.Series,
    sink: _ErrorSink,
    channel_names: Sequence[str] | None,
    columns: Sequence[int | str] | None,
) -> tuple[pd.DataFrame, list[str]]:
    """Points of the numeric value columns, and the names of the columns left out."""
    names = [str(c) for c in rest.columns]
    numeric = [
        c
        for c in names
        if len(names) == 1
        or norm_name(c) in VALUE_COLUMN_NAMES
        or _numeric_share(rest[c]) >= NUMERIC_SHARE
    ]
    skipped = [c for c in names if c not in numeric]
    if skipped:
        logger.warning("%s: ignoring non-numeric columns %s", path, skipped)
    if not numeric:
        raise TelemetryFileError(path, f"no numeric value column found; columns: {names}")
    if channel_names is not None:
        if len(channel_names) != len(numeric):
            raise InvalidOptionError(
                path,
                f"channel_names has {len(channel_names)} names for {len(numeric)} value "
                f"columns ({', '.join(numeric)})",
            )
    labels = dict(zip(numeric, channel_names or numeric, strict=True))
    keep = _select(path, numeric, labels, columns)
    if not keep:
        raise InvalidOptionError(path, "columns selects no value column")

    frames = []
    for col in keep:
        values = _values(rest[col], col, sink)
        good = ts.notna() & values.notna()
        frames.append(
            pd.DataFrame(
                {
                    "ts": ts[good],
                    "channel": labels[col],
                    "value": values[good],
                    "row": rest.index[good],
                }
            )
        )
    return pd.concat(frames, ignore_index=True), skipped


def _select(
    path: Path, numeric: list[str], labels: dict[str, str], columns: Sequence[int | str] | None
) -> list[str]:
    if columns is None:
        return numeric
    by_label = {label: col for col, label in labels.items()}
    keep = []
    for item in columns:
        if isinstance(item, int) and 0 <= item < len(numeric):
            keep.append(numeric[item])
        elif isinstance(item, str) and (item in by_label or item in labels):
            keep.append(by_label.get(item, item))
        else:
            raise InvalidOptionError(
                path, f"column {item!r} not found; value columns: {', '.join(labels.values())}"
            )
    return keep


def _long_points(
    path: Path,
    rest: pd.DataFrame,
    ts: pd.Series,
    cols: tuple[str, str],
    sink: _ErrorSink,
    columns: Sequence[int | str] | None,
) -> pd.DataFrame:
    channel_col, value_col = cols
    channels = rest[channel_col].astype(str).str.strip().where(rest[channel_col].notna(), "")
    no_name = channels.str.lower().isin(MISSING_CELLS)
    sink.add(no_name, rest[channel_col], channel_col, "channel name is missing")
    if columns is not None:
        if any(not isinstance(c, str) for c in columns):
            raise InvalidOptionError(path, "in a long file, columns must be channel names")
        wanted = channels.isin([str(c) for c in columns])
        rest, ts, channels, no_name = rest[wanted], ts[wanted], channels[wanted], no_name[wanted]
    values = _values(rest[value_col], value_col, sink)
    good = ts.notna() & values.notna() & ~no_name
    return pd.DataFrame(
        {"ts": ts[good], "channel": channels[good], "value": values[good], "row": rest.index[good]}
    )


def _finish(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Sort by channel and time, drop duplicate times (first in file wins), count both."""
    frame = frame.sort_values(["channel", "row"], kind="stable")
    out_of_order = int((frame.groupby("channel", sort=False)["ts"].diff() < pd.Timedelta(0)).sum())
    frame = frame.sort_values(["channel", "ts", "row"], kind="stable")
    duplicated = frame.duplicated(["channel", "ts"], keep="first")
    points = frame.loc[~duplicated, ["ts", "channel", "value"]].reset_index(drop=True)
    points["ts"] = points["ts"].astype("datetime64[ns, UTC]")
    points["channel"] = points["channel"].astype(str)
    points["value"] = points["value"].astype("float64")
    return points, int(duplicated.sum()), out_of_order
