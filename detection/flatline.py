"""Flatlines: a value stuck far longer than the channel normally stays still."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from detection.base import Detector
from detection.config import DetectorConfig
from detection.events import EventBuilder
from detection.history import Baseline, History
from detection.types import DetectedAnomaly


def longest_run(values: NDArray[np.float64]) -> int:
    """Length of the longest run of identical consecutive values, points."""
    if values.size == 0:
        return 0
    change = np.flatnonzero(np.diff(values) != 0)
    edges = np.concatenate(([-1], change, [values.size - 1]))
    return int(np.max(np.diff(edges)))


class FlatlineDetector(Detector):
    """Flag a run of identical values once it is unusually long.

    A run qualifies when it is at least ``flatline_min_points`` long and
    ``flatline_history_factor`` times longer than the longest run in the window before
    it. The event starts at the run's first point, stays ongoing while the value does
    not move and closes at the first different value. Score: run length divided by the
    longest earlier run.
    """

    name = "flatline"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self.events = EventBuilder(
            self.name, 1, config.spike_max_points, math.inf, {"m": m, "window": config.window}
        )
        self._run = 1
        self._needed: int | None = None
        self._usual = 1

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        cfg = self.config
        index = history.last_index
        values = history.values
        if history.size < 2 or values[-1] != values[-2]:
            self._run = 1
            self._needed = None
            self.events.close()
            return

        self._run += 1
        if self._run == cfg.flatline_min_points:
            before = values[: max(values.size - self._run, 0)]
            self._usual = max(longest_run(before), 1)
            self._needed = max(
                cfg.flatline_min_points, math.ceil(cfg.flatline_history_factor * self._usual)
            )
        if not report or self._needed is None or self._run < self._needed:
            return
        start_index = index - self._run + 1
        self.events.flag(
            index=index,
            start_index=start_index,
            start_ts=history.ts_at(start_index),
            end_index=index,
            end_ts=history.ts_at(index),
            score=self._run / self._usual,
            deviation=(float(values[-1]) - baseline.median) / baseline.scale,
            baseline_median=baseline.median,
            flat=True,
        )

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
