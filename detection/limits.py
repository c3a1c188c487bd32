"""Value outliers: the robust z of each value against the history window."""

from __future__ import annotations

from detection.base import Detector
from detection.config import DetectorConfig
from detection.events import EventBuilder
from detection.history import Baseline, History
from detection.types import DetectedAnomaly


def robust_z(value: float, baseline: Baseline) -> float:
    """Deviation of ``value`` from the window median in robust standard deviations.

    Parameters
    ----------
    value : float
        The new value, value units.
    baseline : Baseline
        Median and robust scale (1.4826 MAD, floored) of the window.

    Returns
    -------
    float
        ``(value - median) / scale``.
    """
    return (value - baseline.median) / baseline.scale


class LimitsDetector(Detector):
    """Flag values whose robust z reaches ``spike_threshold`` (spikes and excursions)."""

    name = "limits"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        tolerance = config.merge_tolerance if config.merge_tolerance is not None else m
        self.events = EventBuilder(
            self.name,
            tolerance,
            config.spike_max_points,
            config.spike_kind_deviation,
            {"m": m, "window": config.window},
        )

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        index = history.last_index
        z = robust_z(float(history.values[-1]), baseline)
        self.events.tick(index, z)
        if not report or abs(z) < self.config.spike_threshold:
            return
        ts = history.ts_at(index)
        self.events.flag(
            index=index,
            start_index=index,
            start_ts=ts,
            end_index=index,
            end_ts=ts,
            score=abs(z),
            deviation=z,
            baseline_median=baseline.median,
        )

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
