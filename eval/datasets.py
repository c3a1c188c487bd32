"""Loading the labelled benchmark series listed in `../shared/data/manifest.json`.

Every series comes back in one shape: UTC timestamps, values, and labelled windows as
(start, end) timestamps. Index-only series get a synthetic one-minute cadence starting
at 2020-01-01T00:00:00Z, so row i is at start + i minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

INDEX_START = pd.Timestamp("2020-01-01T00:00:00Z")
INDEX_CADENCE = pd.Timedelta(minutes=1)


@dataclass
class LabelledSeries:
    """One univariate benchmark series with its labelled windows."""

    dataset: str
    series_id: str
    path: Path
    ts: pd.DatetimeIndex
    values: np.ndarray
    windows: list[tuple[pd.Timestamp, pd.Timestamp]]
    label_type: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ts_ns(self) -> np.ndarray:
        """Timestamps as int64 nanoseconds since the epoch."""
        return self.ts.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def load_manifest(data_dir: Path) -> list[dict[str, object]]:
    """The manifest's entries."""
    entries: list[dict[str, object]] = json.loads((data_dir / "manifest.json").read_text())
    return entries


def _index_times(n: int) -> pd.DatetimeIndex:
    return pd.date_range(INDEX_START, periods=n, freq=INDEX_CADENCE)


def _read_values(data_dir: Path, entry: dict[str, object]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    path = data_dir / str(entry["path"])
    fmt = entry["format"]
    columns = list(entry["value_columns"])  # type: ignore[call-overload]
    if fmt == "csv":
        frame = pd.read_csv(path)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame.drop_duplicates("timestamp").sort_values("timestamp")
        return pd.DatetimeIndex(frame["timestamp"]), frame[columns[0]].to_numpy(float)
    if fmt == "npy":
        array = np.load(path)
        values = array[:, int(columns[0])] if array.ndim == 2 else array
    elif fmt == "txt":
        values = np.loadtxt(path, dtype=float).reshape(-1)
    elif fmt == "json":
        document = json.loads(path.read_text())
        raw = document["series"][0]["raw"]
        values = np.array([np.nan if v is None else v for v in raw], dtype=float)
    else:
        raise ValueError(f"manifest format {fmt!r} of {path} is not supported")
    values = np.asarray(values, dtype=float)
    return _index_times(len(values)), values


def _windows(
    entry: dict[str, object], ts: pd.DatetimeIndex
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    labels = list(entry.get("labels") or [])  # type: ignore[call-overload]
    if entry["time"] == "timestamp":
        return [(pd.Timestamp(a, tz="UTC"), pd.Timestamp(b, tz="UTC")) for a, b in labels]
    return [(ts[int(a)], ts[int(b)]) for a, b in labels]


def load_series(data_dir: Path, entry: dict[str, object]) -> LabelledSeries:
    """One manifest entry as a `LabelledSeries`."""
    ts, values = _read_values(data_dir, entry)
    return LabelledSeries(
        dataset=str(entry["dataset"]),
        series_id=str(entry["series_id"]),
        path=data_dir / str(entry["path"]),
        ts=ts,
        values=values,
        windows=_windows(entry, ts),
        label_type=str(entry["label_type"]),
        extra={k: v for k, v in entry.items() if k in ("train_path", "train_end", "annotations")},
    )


def iter_series(data_dir: Path, dataset: str | None = None) -> Iterator[LabelledSeries]:
    """Every series of the manifest, or of one dataset."""
    for entry in load_manifest(data_dir):
        if dataset is None or entry["dataset"] == dataset:
            yield load_series(data_dir, entry)
