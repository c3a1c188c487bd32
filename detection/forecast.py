"""Forecasts of one channel: trend plus periodic pattern, with a prediction interval.

The series is split by STL (seasonal-trend decomposition by Loess, Cleveland et al.
1990) into its periodic pattern and the rest; the rest is modelled by an ARIMA(1, 1, 1)
(Box & Jenkins), whose forecast and Gaussian prediction interval get the pattern's
last period added back (``statsmodels.tsa.forecasting.stl.STLForecast``). Without a
period the ARIMA runs on the series itself. An ARIMA with one difference gives an
interval that widens with the horizon, so a forecast is never a straight line without
its uncertainty.

Pure numpy/pandas/statsmodels: no database, no clock.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

#: Most recent points a model is fitted on, points (longer histories are cut).
MAX_FIT_POINTS = 3000
#: Fewest points a forecast is fitted on, points.
MIN_FIT_POINTS = 30
#: Most points ahead one forecast reaches, points.
MAX_HORIZON_POINTS = 2000
#: ARIMA order (p, d, q) of the deseasonalised series.
ARIMA_ORDER = (1, 1, 1)
#: Fewest full periods in the fitted range for the periodic pattern to be used, periods.
MIN_PERIODS = 2
#: Narrowest half-width of the interval, as a fraction of the fitted values' standard
#: deviation times the interval's normal quantile, so near-deterministic fits (and a
#: degenerate variance) still give a usable interval; fraction.
MIN_HALF_WIDTH = 0.05


@dataclass(frozen=True)
class Forecast:
    """A forecast and its prediction interval, one value per future time.

    Attributes
    ----------
    ts : ndarray of int64
        Future timestamps, ns since the epoch (UTC), one cadence apart.
    mean, lower, upper : ndarray of float64
        Point forecast and the bounds of the central ``level`` prediction interval.
    level : float
        Nominal coverage of the interval, fraction.
    period : int or None
        Period of the pattern added back, points; None when none was used.
    cadence_ns : int
        Step between forecast times, ns.
    """

    ts: NDArray[np.int64]
    mean: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    level: float
    period: int | None
    cadence_ns: int


@dataclass(frozen=True)
class Crossing:
    """When a forecast crosses a threshold: earliest, expected and latest times.

    Attributes
    ----------
    earliest_ns : int or None
        First time the interval's near bound crosses (lower bound for ``below``).
    mean_ns : int or None
        First time the point forecast crosses.
    latest_ns : int or None
        First time the interval's far bound crosses too (the whole interval is past).
    """

    earliest_ns: int | None
    mean_ns: int | None
    latest_ns: int | None


def forecast(
    ts_ns: NDArray[np.int64],
    values: NDArray[np.float64],
    horizon_points: int,
    period: int | None = None,
    level: float = 0.9,
) -> Forecast:
    """Forecast ``horizon_points`` steps ahead with a prediction interval.

    Parameters
    ----------
    ts_ns : ndarray of int64
        Timestamps, ns since the epoch (UTC), increasing, roughly evenly spaced.
    values : ndarray of float64
        Samples; non-finite ones are interpolated over.
    horizon_points : int
        Steps ahead, at the median cadence, in ``[1, MAX_HORIZON_POINTS]``.
    period : int or None
        Period of the pattern, points; None or < 2 fits no pattern. Used only when the
        fitted range holds ``MIN_PERIODS`` periods.
    level : float
        Nominal coverage of the interval, in (0, 1).

    Returns
    -------
    Forecast

    References
    ----------
    R. B. Cleveland et al., "STL: A seasonal-trend decomposition procedure based on
    Loess", Journal of Official Statistics 6 (1990). statsmodels ``STLForecast``.
    """
    ts = np.asarray(ts_ns)
    vs = np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or ts.shape != vs.shape:
        raise ValueError(
            f"ts_ns and values must be 1-D arrays of equal length, got shapes {ts.shape} "
            f"and {vs.shape}; pass one channel as two flat arrays"
        )
    if not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(f"ts_ns must be int64 ns since the epoch, got dtype {ts.dtype}")
    if np.count_nonzero(np.isfinite(vs)) < MIN_FIT_POINTS:
        raise ValueError(
            f"a forecast needs at least {MIN_FIT_POINTS} finite values, got "
            f"{np.count_nonzero(np.isfinite(vs))}; give a longer history"
        )
    if np.any(np.diff(ts) <= 0):
        raise ValueError("ts_ns must be strictly increasing; sort and drop duplicates first")
    if not isinstance(horizon_points, int | np.integer) or not (
        1 <= horizon_points <= MAX_HORIZON_POINTS
    ):
        raise ValueError(
            f"horizon_points must be an int in [1, {MAX_HORIZON_POINTS}], got "
            f"{horizon_points!r}; aggregate the series with regularise() for longer horizons"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}; e.g. 0.9 for 90 %")
    return _forecast(ts.astype(np.int64), vs, int(horizon_points), period, float(level))


def _forecast(
    ts: NDArray[np.int64], vs: NDArray[np.float64], horizon: int, period: int | None, level: float
) -> Forecast:
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.forecasting.stl import STLForecast

    ts, vs = ts[-MAX_FIT_POINTS:], vs[-MAX_FIT_POINTS:]
    finite = np.isfinite(vs)
    if not finite.all():
        vs = np.interp(np.arange(vs.size), np.flatnonzero(finite), vs[finite])
    cadence = int(np.median(np.diff(ts)))
    future = ts[-1] + cadence * np.arange(1, horizon + 1, dtype=np.int64)
    seasonal = period if period is not None and period >= 2 else None
    if seasonal is not None and vs.size < MIN_PERIODS * seasonal + 1:
        seasonal = None
    # scale to unit spread: the optimiser is better behaved and flat channels still fit
    centre = float(np.median(vs))
    scale = float(np.std(vs)) or 1.0
    z = (vs - centre) / scale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the optimiser
        if seasonal is not None:
            stl_period = seasonal if seasonal % 2 else seasonal + 1
            model = STLForecast(
                z,
                ARIMA,
                model_kwargs={"order": ARIMA_ORDER, "trend": "t"},
                period=seasonal,
                seasonal=max(7, stl_period),
                robust=True,
            )
            prediction = model.fit().get_prediction(z.size, z.size + horizon - 1)
        else:
            arima = ARIMA(z, order=ARIMA_ORDER, trend="t").fit()
            prediction = arima.get_prediction(z.size, z.size + horizon - 1)
    mean = np.asarray(prediction.predicted_mean, dtype=np.float64)
    bounds = np.asarray(prediction.conf_int(alpha=1 - level), dtype=np.float64)
    floor = MIN_HALF_WIDTH * float(NormalDist().inv_cdf(0.5 + level / 2))
    half = np.nan_to_num((bounds[:, 1] - bounds[:, 0]) / 2, nan=0.0)
    half = np.maximum(half, floor)
    bounds = np.column_stack([mean - half, mean + half])

    return Forecast(
        ts=future,
        mean=mean * scale + centre,
        lower=bounds[:, 0] * scale + centre,
        upper=bounds[:, 1] * scale + centre,
        level=level,
        period=seasonal,
        cadence_ns=cadence,
    )


def regularise(
    ts_ns: NDArray[np.int64], values: NDArray[np.float64], step_ns: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Mean of the values in consecutive ``step_ns`` bins, empty bins interpolated.

    Parameters
    ----------
    ts_ns : ndarray of int64
        Increasing timestamps, ns since the epoch.
    values : ndarray of float64
        Samples.
    step_ns : int
        Bin width, ns; > 0.

    Returns
    -------
    tuple of ndarray
        Bin start times (int64 ns) and bin means (float64).
    """
    if step_ns <= 0:
        raise ValueError(f"step_ns must be > 0, got {step_ns!r}")
    ts = np.asarray(ts_ns, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    if ts.size == 0:
        return ts, vs
    bins = (ts - ts[0]) // step_ns
    count = np.bincount(bins)
    total = np.bincount(bins, weights=np.nan_to_num(vs))
    present = count > 0
    means = np.full(count.size, np.nan)
    means[present] = total[present] / count[present]
    means = np.interp(np.arange(means.size), np.flatnonzero(present), means[present])
    return ts[0] + step_ns * np.arange(count.size, dtype=np.int64), means


def crossing(result: Forecast, threshold: float, direction: str) -> Crossing:
    """When the forecast crosses ``threshold`` going ``direction`` ("below" or "above").

    Parameters
    ----------
    result : Forecast
    threshold : float
        Value in the channel's unit.
    direction : str
        ``"below"``: the channel falls under the threshold; ``"above"``: it rises over.

    Returns
    -------
    Crossing
        Each field None when that curve does not cross within the horizon.
    """
    if direction not in ("below", "above"):
        raise ValueError(f"direction must be 'below' or 'above', got {direction!r}")
    near, far = (
        (result.lower, result.upper) if direction == "below" else (result.upper, result.lower)
    )

    def first(curve: NDArray[np.float64]) -> int | None:
        past = curve < threshold if direction == "below" else curve > threshold
        hits = np.flatnonzero(past)
        return int(result.ts[hits[0]]) if hits.size else None

    return Crossing(earliest_ns=first(near), mean_ns=first(result.mean), latest_ns=first(far))


def interval_coverage(result: Forecast, actual: NDArray[np.float64]) -> float:
    """Share of ``actual`` values (aligned with ``result.ts``) inside the interval."""
    actual = np.asarray(actual, dtype=np.float64)[: result.ts.size]
    inside = (actual >= result.lower[: actual.size]) & (actual <= result.upper[: actual.size])
    return float(np.mean(inside)) if actual.size else float("nan")
