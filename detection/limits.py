"""Value outliers: level and seasonal-residual robust z, with adaptive thresholds.

Two scores per point, each a robust z against the channel's own window:

- *level*: deviation of the value from the window median, in robust standard
  deviations (1.4826 MAD, floored) -- large, slow excursions;
- *seasonal residual* (periodic channels only): deviation of the value from the median
  of the values one, two and three periods earlier, in robust standard deviations of
  the same residual over the window -- short spikes inside the channel's normal range
  (e.g. a spike on a voltage that follows eclipse cycles).

A score flags a point when it reaches ``spike_threshold`` *and* exceeds
``limits_novelty`` times its own ``LIMITS_QUANTILE`` quantile over the window, so a
bursty channel whose routine excursions are large needs a larger one to alarm. The
novelty test applies once the window is full: over a partial window the quantile
rests on a few points of the warm-up, and one anomaly there would silence the next.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from detection.base import Detector
from detection.config import LIMITS_QUANTILE, MAD_TO_STD, SEASON_LAGS, DetectorConfig
from detection.events import EventBuilder
from detection.history import Baseline, History
from detection.matrix_profile import seasonal_period
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)


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


def seasonal_residuals(values: NDArray[np.float64], period: int) -> NDArray[np.float64]:
    """Residual of each value from the median of the same phase ``SEASON_LAGS`` periods ago.

    Parameters
    ----------
    values : ndarray of float64
        Evenly spaced samples, oldest first.
    period : int
        Season length, points.

    Returns
    -------
    ndarray of float64
        ``values.size - SEASON_LAGS * period`` residuals (empty if too short), value
        units; the last one belongs to the newest value.
    """
    span = SEASON_LAGS * period
    if values.size <= span:
        return np.empty(0)
    n = values.size - span
    lagged = np.stack(
        [values[span - k * period : span - k * period + n] for k in range(1, SEASON_LAGS + 1)]
    )
    return values[span:] - np.median(lagged, axis=0)


def _spread(scores: NDArray[np.float64], floor: float) -> tuple[float, float, float]:
    """Median, robust scale (floored) and the high quantile of |score - median|."""
    med = float(np.median(scores))
    dev = np.abs(scores - med)
    scale = max(MAD_TO_STD * float(np.median(dev)), floor)
    return med, scale, float(np.quantile(dev, LIMITS_QUANTILE))


class LimitsDetector(Detector):
    """Flag values whose level or seasonal-residual robust z is unusually high."""

    name = "limits"
    window_referenced = True

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
        self.period = seasonal_period(history)
        self._since = config.stats_every
        self._level_high = 0.0
        #: largest absolute deviation from the median over the window before the newest
        self._level_max = math.inf
        self._res = (0.0, 1.0, 0.0)

    def relearn(self, history: History) -> None:
        """Look for a period again over the full window if the warm-up showed none."""
        if self.period is not None:
            return
        self.period = seasonal_period(history)
        if self.period is not None:
            self._since = self.config.stats_every
            logger.info("period of %d points found in the full window", self.period)

    def _refresh(self, history: History, baseline: Baseline) -> None:
        values = history.values
        deviations = np.abs(values - baseline.median)
        self._level_high = float(np.quantile(deviations, LIMITS_QUANTILE))
        self._level_max = float(np.max(deviations[:-1], initial=0.0))
        if self.period is not None:
            res = seasonal_residuals(values, self.period)
            if res.size >= 2 * self.period:
                floor = self.config.value_scale_floor * float(np.std(res))
                tiny = 1e-9 * max(1.0, abs(baseline.median))
                self._res = _spread(res, max(floor, tiny))

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        cfg = self.config
        self._since += 1
        if self._since >= cfg.stats_every:
            self._refresh(history, baseline)
            self._since = 0
        index = history.last_index
        value = float(history.values[-1])
        z = robust_z(value, baseline)
        # routine excursions are only known over a full window: right after the warm-up
        # the window is mostly the warm-up itself, and one anomaly in it would set them
        novelty = cfg.limits_novelty if history.size >= history.capacity else 0.0
        score = 0.0
        if abs(z) >= cfg.spike_threshold and abs(value - baseline.median) > (
            novelty * self._level_high
        ):
            score = abs(z)
        elif (
            novelty > 0
            and abs(z) >= cfg.record_z
            and abs(value - baseline.median) > cfg.record_factor * self._level_max
        ):
            # a new record of a quiet channel: beyond anything in the full window
            score = abs(z)
        # the deviation that decides the kind (spike: back within bounds) is the larger
        # of the level and the seasonal-residual z
        deviation = z
        if self.period is not None and history.size > SEASON_LAGS * self.period:
            res = seasonal_residuals(
                history.values[-(SEASON_LAGS * self.period + 1) :], self.period
            )
            med, scale, high = self._res
            rz = (float(res[-1]) - med) / scale
            if abs(rz) > abs(z):
                deviation = rz
            if abs(rz) >= cfg.spike_threshold and abs(rz) * scale > novelty * high:
                score = max(score, abs(rz))
        self.events.tick(index, deviation)
        if not report or not score > 0 or math.isnan(score):
            return
        ts = history.ts_at(index)
        self.events.flag(
            index=index,
            start_index=index,
            start_ts=ts,
            end_index=index,
            end_ts=ts,
            score=score,
            deviation=deviation,
            baseline_median=baseline.median,
        )

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
