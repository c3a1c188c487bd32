"""The project's detector on a benchmark series, fed point by point like the worker.

Each point goes through ``ChannelDetector.update`` in time order (the train part, if
any, is the detector's reference and goes through ``warm`` first, so nothing in it is
reported); ``ChannelDetector.flush`` ends the series, as in the batch path
(``detect_series``): it closes what is ongoing and, on a series shorter than
``cp_early_until``, reports the early change-point search's last breakpoints. For every
anomaly the harness keeps its final start, end and score, and the row at which it was
*first reported* (the last row for one first seen at the flush): the NAB score credits
a detection at that row, never at its (earlier) start, so change points confirmed late
are not given look-ahead credit. The top-1 location is where the highest-scoring
anomaly is most pronounced: its ``params["peak_start"]`` when the detector says so, else
its start.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from detection import ChannelDetector, DetectedAnomaly, DetectorConfig
from detection.events import PEAK_START
from eval.output import Event, MethodOutput, squash
from eval.tasks import EvalSeries

PROJECT = "project"


def _row(ts_ns: np.ndarray, stamp: pd.Timestamp) -> int:
    row = int(np.searchsorted(ts_ns, int(stamp.value)))
    return min(row, int(ts_ns.size) - 1)


def _location(ts_ns: np.ndarray, anomaly: DetectedAnomaly) -> int:
    """Row where ``anomaly`` is most pronounced (its peak, else its start)."""
    peak = anomaly.params.get(PEAK_START)
    return _row(ts_ns, anomaly.start if peak is None else pd.Timestamp(peak))


def run_project(series: EvalSeries, config: DetectorConfig | None = None) -> MethodOutput:
    """Stream ``series`` through the project's detector; see the module docstring."""
    started = time.perf_counter()
    detector = ChannelDetector(config)
    if series.train is not None and series.train_ts_ns is not None:
        detector.set_reference(series.train)
        detector.warm(series.train_ts_ns, series.train)

    final: dict[tuple[str, pd.Timestamp], DetectedAnomaly] = {}
    reported: dict[tuple[str, pd.Timestamp], int] = {}
    ts, vs = series.ts_ns, series.values
    for i in range(ts.size):
        for anomaly in detector.update(ts[i : i + 1], vs[i : i + 1]):
            key = (anomaly.detector, anomaly.start)
            final[key] = anomaly
            reported.setdefault(key, i)
    for anomaly in detector.flush():
        key = (anomaly.detector, anomaly.start)
        final[key] = anomaly
        reported.setdefault(key, ts.size - 1)  # first reported by the flush, at the end

    events: list[Event] = []
    point_scores = np.zeros(series.n)
    for key, anomaly in final.items():
        start, end = _row(ts, anomaly.start), _row(ts, anomaly.end)
        events.append(Event(start, max(start, end), float(anomaly.score)))
        row = reported.get(key, start)
        point_scores[row] = max(point_scores[row], float(squash(anomaly.score)))
    events.sort(key=lambda e: (e.start, e.end))
    top = max(final.values(), key=lambda a: float(a.score), default=None)
    return MethodOutput(
        events=events,
        point_scores=point_scores,
        top1=None if top is None else _location(ts, top),
        change_points=sorted({e.start for e in events}),
        seconds=time.perf_counter() - started,
        online=True,
    )
