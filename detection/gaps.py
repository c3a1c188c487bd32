"""Gaps: a time delta much longer than the channel's usual cadence."""

from __future__ import annotations

from detection.base import Detector
from detection.config import DetectorConfig
from detection.events import severity_of, snapshot, to_timestamp
from detection.history import Baseline, History
from detection.types import DetectedAnomaly


class GapDetector(Detector):
    """Report a closed ``gap`` when a time delta is unusual for the channel.

    A gap needs ``delta > gap_factor * max(median cadence, routine longest delta)``
    and a channel that is normally regular (``gap_regular_share`` of its deltas at the
    median cadence): on irregularly sampled channels long deltas are routine.

    The event starts at the last point before the gap and ends at the first point
    after it; its score is the delta in multiples of the median cadence.
    """

    name = "gap"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self._changed: list[DetectedAnomaly] = []

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        cfg = self.config
        if not report or history.size < 2 or baseline.cadence <= 0:
            return
        if baseline.regular_share < cfg.gap_regular_share:
            return
        before, after = int(history.timestamps[-2]), int(history.timestamps[-1])
        ratio = (after - before) / baseline.cadence
        if after - before <= cfg.gap_factor * max(baseline.cadence, baseline.cadence_high):
            return
        self._changed.append(
            DetectedAnomaly(
                detector=self.name,
                kind="gap",
                start=to_timestamp(before),
                end=to_timestamp(after),
                score=float(ratio),
                severity=severity_of(float(ratio)),
                ongoing=False,
                params={
                    "m": self.m,
                    "window": self.config.window,
                    "cadence_s": baseline.cadence / 1e9,
                    "gap_s": (after - before) / 1e9,
                    "magnitude": float(ratio),
                    "baseline_median": baseline.median,
                },
            )
        )

    def flush(self) -> None:
        """Gaps are reported closed; nothing to do."""

    def drain(self) -> list[DetectedAnomaly]:
        changed = [snapshot(a) for a in self._changed]
        self._changed.clear()
        return changed
