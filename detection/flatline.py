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
    it, and than the longest run of the channel's reference (``set_reference``, e.g. a
    train split), so a channel that normally sits still for long does not alarm; a
    channel whose reference is one single run is never flagged.
    The event starts at the run's first point, stays ongoing while the value does
    not move and closes at the first different value. Score: run length divided by the
    longest earlier run.
    """

    name = "flatline"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self.events = EventBuilder(
            self.name, 1, config.spike_max_points, math.inf, {"m": m, "window": config.window}
        )
        values = history.values
        changed = np.flatnonzero(np.diff(values) != 0)
        # the run the newest point belongs to, counted from the history already seen
        self._run = int(values.size - 1 - changed[-1]) if changed.size else int(values.size)
        self._needed: int | None = None
        self._usual = 1
        self._reference_longest = 0
        self._still_by_nature = False

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
        if self._still_by_nature:
            return
        if self._run == cfg.flatline_min_points:
            before = values[: max(values.size - self._run, 0)]
            self._usual = max(longest_run(before), self._reference_longest, 1)
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

    def use_reference(self, reference: NDArray[np.float64]) -> None:
        self._reference_longest = longest_run(reference)
        self._still_by_nature = reference.size > 0 and self._reference_longest == reference.size

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
