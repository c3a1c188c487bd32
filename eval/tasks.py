"""Benchmark series in the one shape every method and metric of the harness uses.

Every series becomes an :class:`EvalSeries`: the points to score (``values`` with
``ts_ns``), optional anomaly-free points that precede them (``train``), and labels as
0-based inclusive row windows into ``values``. The rules are generic, one per dataset
of the manifest, never per file:

* NAB: the whole file is scored; the probationary prefix (NAB's first 15 %) is the
  reference for train-referenced baselines.
* SMAP/MSL: the test array is scored; the train array precedes it.
* UCR: rows from ``train_end`` on are scored; the rows before are the train part.
* TCPD: the whole series is scored against every annotator's change points.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eval.datasets import INDEX_CADENCE, INDEX_START, load_manifest, load_series
from eval.nab_score import probation_length

#: Benchmark names, in report order.
BENCHMARKS = ("nab", "smap", "msl", "ucr", "tcpd")
#: Manifest dataset of each benchmark.
DATASET_OF = {
    "nab": "nab",
    "smap": "smap_msl",
    "msl": "smap_msl",
    "ucr": "ucr_anomaly_2021",
    "tcpd": "tcpd",
}

IndexWindow = tuple[int, int]


@dataclass
class EvalSeries:
    """One series ready for the methods and metrics.

    Attributes
    ----------
    benchmark : str
        One of ``BENCHMARKS``.
    series_id : str
        The manifest's id.
    ts_ns : ndarray of int64
        Timestamps of the scored points, ns since the epoch (UTC), increasing.
    values : ndarray of float64
        Scored points (NaN where missing).
    labels : list of (int, int)
        Labelled windows (or change points as ``(i, i)``), inclusive rows of ``values``.
    train_ts_ns, train : ndarray or None
        Anomaly-free points before ``values`` (warm-up history and reference).
    reference : ndarray or None
        Points a train-referenced method compares against: ``train``, or NAB's
        probationary prefix of ``values``.
    annotations : dict or None
        TCPD: annotator id to change-point rows.
    nab_windows : list of (str, str)
        NAB: the labelled windows as timestamps (for the NAB score).
    univariate : bool
        False for multi-dimensional TCPD series (only the first dimension is loaded).
    """

    benchmark: str
    series_id: str
    ts_ns: NDArray[np.int64]
    values: NDArray[np.float64]
    labels: list[IndexWindow]
    train_ts_ns: NDArray[np.int64] | None = None
    train: NDArray[np.float64] | None = None
    reference: NDArray[np.float64] | None = None
    annotations: dict[str, list[int]] | None = None
    nab_windows: list[tuple[str, str]] = field(default_factory=list)
    univariate: bool = True

    @property
    def n(self) -> int:
        """Number of scored points."""
        return int(self.values.size)


def _row_of(ts_ns: NDArray[np.int64], stamp: object) -> int:
    import pandas as pd

    value = pd.Timestamp(stamp)  # type: ignore[arg-type]
    value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return int(np.searchsorted(ts_ns, value.value))


def _benchmark_of(entry: dict[str, object]) -> str:
    dataset = str(entry["dataset"])
    if dataset == "smap_msl":
        return "smap" if str(entry["series_id"]).upper().startswith("SMAP") else "msl"
    return {"nab": "nab", "ucr_anomaly_2021": "ucr", "tcpd": "tcpd"}[dataset]


def _index_ts(start_row: int, n: int) -> NDArray[np.int64]:
    start = INDEX_START.value + start_row * INDEX_CADENCE.value
    return (start + np.arange(n, dtype=np.int64) * INDEX_CADENCE.value).astype(np.int64)


def prepare(data_dir: Path, entry: dict[str, object]) -> EvalSeries:
    """One manifest entry as an :class:`EvalSeries`."""
    series = load_series(data_dir, entry)
    benchmark = _benchmark_of(entry)
    ts = series.ts_ns.astype(np.int64)
    values = series.values.astype(float)
    raw_labels = list(entry.get("labels") or [])  # type: ignore[call-overload]

    if benchmark == "nab":
        labels = [(_row_of(ts, a), _row_of(ts, b)) for a, b in raw_labels]
        reference = values[: probation_length(values.size)]
        return EvalSeries(
            benchmark,
            series.series_id,
            ts,
            values,
            labels,
            reference=reference,
            nab_windows=[(str(a), str(b)) for a, b in raw_labels],
        )
    labels = [(int(a), int(b)) for a, b in raw_labels]
    if benchmark in ("smap", "msl"):
        train = np.load(data_dir / str(entry["train_path"]))[:, 0].astype(float)
        return EvalSeries(
            benchmark,
            series.series_id,
            ts,
            values,
            labels,
            train_ts_ns=_index_ts(-train.size, train.size),
            train=train,
            reference=train,
        )
    if benchmark == "ucr":
        cut = int(entry["train_end"])  # type: ignore[call-overload]
        return EvalSeries(
            benchmark,
            series.series_id,
            ts[cut:],
            values[cut:],
            [(a - cut, b - cut) for a, b in labels],
            train_ts_ns=ts[:cut],
            train=values[:cut],
            reference=values[:cut],
        )
    by_annotator = dict(entry["annotations"])  # type: ignore[call-overload]
    annotations = {str(k): [int(x) for x in v] for k, v in by_annotator.items()}
    univariate = len(list(entry["value_columns"])) == 1  # type: ignore[call-overload]
    return EvalSeries(
        benchmark,
        series.series_id,
        ts,
        values,
        labels,
        annotations=annotations,
        univariate=univariate,
    )


def iter_eval_series(
    data_dir: Path,
    benchmarks: tuple[str, ...] | None = None,
    limit: int | None = None,
    series_ids: Collection[str] | None = None,
) -> Iterator[EvalSeries]:
    """Every series of the chosen benchmarks (all by default), at most ``limit`` each.

    ``series_ids`` keeps only the series with these manifest ids.
    """
    wanted = BENCHMARKS if benchmarks is None else benchmarks
    unknown = set(wanted) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}")
    counts = dict.fromkeys(wanted, 0)
    for entry in load_manifest(data_dir):
        benchmark = _benchmark_of(entry)
        if benchmark not in counts or (limit is not None and counts[benchmark] >= limit):
            continue
        if series_ids is not None and str(entry["series_id"]) not in series_ids:
            continue
        counts[benchmark] += 1
        yield prepare(data_dir, entry)
