"""A channel's profile, learned from its history: period, window lengths, normal range.

The profile is what a per-channel model stores (``store.channel_models.ChannelModel.
params``): plain JSON values, turned into a :class:`~detection.config.DetectorConfig`
by :func:`detector_config`. Pure numpy: no database, no clock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.config import MAD_TO_STD, DetectorConfig
from detection.forecast import forecast
from detection.matrix_profile import dominant_period

#: Fewest finite points a profile is learned from, points.
MIN_PROFILE_POINTS = 200
#: Longest period looked for, points.
MAX_PERIOD = 2000
#: Quantiles bounding the normal range, fractions.
NORMAL_QUANTILES = (0.005, 0.995)
#: Learned limits lie this share of the normal range's width outside it, fraction.
LIMIT_MARGIN = 0.25
#: The history window holds this many periods, at least the default window, periods.
WINDOW_PERIODS = 5
#: Longest history window a profile asks for, points.
MAX_WINDOW = 5000
#: Share of the training data held back to score the forecast's interval, fraction.
QUALITY_HOLDOUT_SHARE = 0.05
#: Held-back points of the forecast check, at most, points.
QUALITY_HOLDOUT_MAX = 200
#: Points before the held-back end the quality forecast is fitted on (or 3 periods), points.
QUALITY_FIT_POINTS = 1000
#: Nominal level of the forecast interval checked, fraction.
QUALITY_LEVEL = 0.9


def learn_period(values: NDArray[np.float64]) -> int | None:
    """Dominant period of ``values`` (autocorrelation), points; None without a clear one.

    Parameters
    ----------
    values : ndarray of float64
        Evenly spaced samples; non-finite ones are dropped.

    Returns
    -------
    int or None
        Period up to ``min(MAX_PERIOD, n // 4)`` points.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return dominant_period(finite, max_lag=max(2, min(MAX_PERIOD, finite.size // 4)))


def learn_profile(ts_ns: NDArray[np.int64], values: NDArray[np.float64]) -> dict[str, Any]:
    """Learn a channel's profile from its history.

    Parameters
    ----------
    ts_ns : ndarray of int64
        Timestamps, ns since the epoch (UTC), increasing.
    values : ndarray of float64
        Samples in the channel's unit; non-finite ones are ignored.

    Returns
    -------
    dict
        ``params``: ``period`` (points or None), ``cadence_s``, ``m``, ``window``,
        ``warmup`` (points), ``normal_range`` ``{low, high, median, mad}`` (robust
        quantiles ``NORMAL_QUANTILES``), ``thresholds`` (robust z of the detectors),
        ``limits`` ``{low, high, source: "learned"}``; ``quality``: ``points``,
        ``outside_normal_per_1000`` and the forecast interval's ``forecast_coverage``
        and ``forecast_mase`` on the held-back end; ``training_start_ns``,
        ``training_end_ns``.
    """
    ts = np.asarray(ts_ns)
    vs = np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or ts.shape != vs.shape:
        raise ValueError(
            f"ts_ns and values must be 1-D arrays of equal length, got shapes {ts.shape} "
            f"and {vs.shape}"
        )
    finite = np.isfinite(vs)
    if np.count_nonzero(finite) < MIN_PROFILE_POINTS:
        raise ValueError(
            f"a profile needs at least {MIN_PROFILE_POINTS} finite points, got "
            f"{np.count_nonzero(finite)}; ingest more history before training"
        )
    return _learn(ts[finite].astype(np.int64), vs[finite])


def _learn(ts: NDArray[np.int64], vs: NDArray[np.float64]) -> dict[str, Any]:
    defaults = DetectorConfig()
    period = learn_period(vs)

    # window lengths the way ChannelDetector picks them, but from the whole history
    m = defaults.m_default if period is None else period
    m = int(min(max(m, defaults.m_min), defaults.m_max))
    window = defaults.window
    if period is not None:
        window = int(min(max(window, WINDOW_PERIODS * period), MAX_WINDOW))
    warmup = max(defaults.warmup, 4 * m)

    low, high = (float(q) for q in np.quantile(vs, NORMAL_QUANTILES))
    median = float(np.median(vs))
    mad = float(np.median(np.abs(vs - median)))
    margin = LIMIT_MARGIN * (high - low) or MAD_TO_STD * mad or 1.0
    outside = np.count_nonzero((vs < low) | (vs > high))

    params: dict[str, Any] = {
        "period": period,
        "cadence_s": float(np.median(np.diff(ts))) / 1e9 if ts.size > 1 else None,
        "m": m,
        "window": window,
        "warmup": warmup,
        "normal_range": {"low": low, "high": high, "median": median, "mad": mad},
        "thresholds": {
            "mp_threshold": defaults.mp_threshold,
            "spike_threshold": defaults.spike_threshold,
            "limits_novelty": defaults.limits_novelty,
        },
        "limits": {"low": low - margin, "high": high + margin, "source": "learned"},
    }
    quality: dict[str, Any] = {
        "points": int(vs.size),
        "outside_normal_per_1000": 1000.0 * outside / vs.size,
        **_forecast_quality(ts, vs, period),
    }
    return {
        "params": params,
        "quality": quality,
        "training_start_ns": int(ts[0]),
        "training_end_ns": int(ts[-1]),
    }


def _forecast_quality(
    ts: NDArray[np.int64], vs: NDArray[np.float64], period: int | None
) -> dict[str, float | None]:
    """Coverage and MASE of the forecast interval on the held-back end of the history."""
    horizon = int(min(QUALITY_HOLDOUT_MAX, max(10, QUALITY_HOLDOUT_SHARE * vs.size)))
    if vs.size < 4 * horizon or np.ptp(vs) == 0:
        return {"forecast_coverage": None, "forecast_mase": None}
    fit = max(QUALITY_FIT_POINTS, 3 * (period or 0))
    result = forecast(
        ts[-horizon - fit : -horizon],
        vs[-horizon - fit : -horizon],
        horizon,
        period=period,
        level=QUALITY_LEVEL,
    )
    actual = vs[-horizon:]
    coverage = float(np.mean((actual >= result.lower) & (actual <= result.upper)))
    naive = float(np.mean(np.abs(actual - vs[-horizon - 1])))
    mae = float(np.mean(np.abs(actual - result.mean)))
    return {"forecast_coverage": coverage, "forecast_mase": mae / naive if naive else None}


def detector_config(params: dict[str, Any], base: DetectorConfig) -> DetectorConfig:
    """``base`` with the window lengths of a learned profile's ``params``.

    Parameters
    ----------
    params : dict
        ``learn_profile(...)["params"]`` (as stored): ``m``, ``window``, ``warmup``.
    base : DetectorConfig
        Settings the profile does not change.

    Returns
    -------
    DetectorConfig
        ``m`` fixed to the learned one; ``window`` and ``warmup`` at least the learned ones
        and at least ``base``'s, so a model never shortens the configured history.
    """
    m = int(params["m"])
    warmup = max(base.warmup, int(params.get("warmup", 4 * m)), 4 * m)
    window = max(base.window, int(params.get("window", base.window)), warmup)
    return dataclasses.replace(base, m=m, window=window, warmup=warmup)
