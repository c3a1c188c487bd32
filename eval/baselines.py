"""Reference methods measured in the same run as the project's detector.

* ``rolling_z``: value against the mean and standard deviation of the preceding
  ``ZSCORE_WINDOW`` points (online).
* ``mp_discord``: the top-1 discord of the full (batch, self-join) matrix profile,
  ``stumpy.stump`` (Yeh et al., ICDM 2016). Sees the whole series.
* ``train_discord``: each scored subsequence's distance to its nearest neighbour in the
  reference (AB-join, ``stumpy.stump(T_A, m, T_B, ignore_trivial=False)``), flagged
  above mean + 3 std of the reference's own matrix profile. Online once the reference
  is known.
* ``binseg``: ruptures' binary segmentation, l2 cost on the z-scored series (as TCPD
  standardises), BIC-style penalty ``BINSEG_PENALTY * log(n)`` (Truong et al., Signal
  Processing 2020). Sees the whole series.
* ``never``: flags nothing.

Both discord baselines use one subsequence length, ``DISCORD_M`` = 100 points (the
setting of the project's calibration run), capped at a quarter of short series; nothing
is set per file. (``detection``'s automatic ``m`` gave SMAP 0.65 / MSL 0.13 event F1 for
the train-referenced discord against 0.76 / 0.43 with ``m = 100``.)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import ruptures
import stumpy
from numpy.typing import NDArray

from eval.output import Event, MethodOutput, merge_flags, squash
from eval.tasks import EvalSeries

#: Trailing window of the rolling z-score, points (shorter series use a quarter of n).
ZSCORE_WINDOW = 100
#: |z| above which a point is flagged.
ZSCORE_THRESHOLD = 4.0
#: Flags at most this many rows apart form one event (rolling z and train discord).
MERGE_GAP = 10
#: Standard deviations above the reference profile's mean for a train-referenced discord.
TRAIN_DISCORD_SIGMAS = 3.0
#: Binseg penalty per change point, multiples of log(n), on the z-scored series (BIC-like).
BINSEG_PENALTY = 2.0
#: Subsequence length of both matrix-profile baselines, points (at most n // 4).
DISCORD_M = 100
#: Series longer than this use a coarser Binseg grid (``jump = n // BINSEG_FINE_ROWS``).
BINSEG_FINE_ROWS = 2000

Method = Callable[[EvalSeries], MethodOutput]


def _filled(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """NaN replaced by linear interpolation (edges by the nearest finite value)."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x)
    if finite.all() or not finite.any():
        return np.nan_to_num(x)
    rows = np.arange(x.size)
    return np.interp(rows, rows[finite], x[finite])


def _m_for(series: EvalSeries) -> int:
    return int(max(3, min(DISCORD_M, series.n // 4)))


def rolling_z(series: EvalSeries) -> MethodOutput:
    """Rolling z-score against the preceding window (online)."""
    started = time.perf_counter()
    x = _filled(series.values)
    window = max(5, min(ZSCORE_WINDOW, series.n // 4))
    cumsum = np.concatenate([[0.0], np.cumsum(x)])
    cumsq = np.concatenate([[0.0], np.cumsum(x * x)])
    rows = np.arange(series.n)
    lo = np.maximum(rows - window, 0)
    count = rows - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cumsum[rows] - cumsum[lo]) / count
        var = (cumsq[rows] - cumsq[lo]) / count - mean**2
        z = np.abs(x - mean) / np.sqrt(np.maximum(var, 0.0))
    z[count < window] = 0.0
    z = np.where(np.isfinite(z), z, 0.0)
    events = merge_flags(z > ZSCORE_THRESHOLD, z, MERGE_GAP)
    return MethodOutput(
        events=events,
        point_scores=squash(z),
        top1=int(np.argmax(z)) if z.any() else None,
        change_points=[e.start for e in events],
        seconds=time.perf_counter() - started,
    )


def mp_discord(series: EvalSeries) -> MethodOutput:
    """Top-1 discord of the batch self-join matrix profile (sees the whole series)."""
    started = time.perf_counter()
    m = _m_for(series)
    profile = stumpy.stump(_filled(series.values), m)[:, 0].astype(float)
    profile[~np.isfinite(profile)] = -np.inf
    point_scores = np.zeros(series.n)
    if not np.isfinite(profile).any():
        return MethodOutput([], point_scores, seconds=time.perf_counter() - started, online=False)
    top = int(np.argmax(profile))
    point_scores[top] = 1.0
    return MethodOutput(
        events=[Event(top, top + m - 1, float(profile[top]))],
        point_scores=point_scores,
        top1=top,
        change_points=[top],
        seconds=time.perf_counter() - started,
        online=False,
    )


def train_discord(series: EvalSeries) -> MethodOutput | None:
    """Train-referenced discords (AB-join against the reference); None without one."""
    reference = series.reference
    if reference is None:
        return None
    started = time.perf_counter()
    m = _m_for(series)
    if reference.size < 2 * m or series.n < m:
        return None
    ref = _filled(reference)
    self_join = stumpy.stump(ref, m)[:, 0].astype(float)
    self_join = self_join[np.isfinite(self_join)]
    threshold = float(self_join.mean() + TRAIN_DISCORD_SIGMAS * self_join.std())
    with warnings.catch_warnings():
        # exact repeats of the reference (NAB's prefix) trip stumpy's self-join hint
        warnings.filterwarnings("ignore", message="A large number of values in `P`")
        ab = stumpy.stump(_filled(series.values), m, ref, ignore_trivial=False)[:, 0]
    ab = ab.astype(float)
    ab[~np.isfinite(ab)] = 0.0

    # a subsequence is known once its last point arrived: score it there
    point_scores = np.zeros(series.n)
    point_scores[m - 1 :] = squash(ab / threshold) if threshold > 0 else 0.0
    flags = np.zeros(series.n, dtype=bool)
    per_row = np.zeros(series.n)
    for start in np.flatnonzero(ab > threshold):
        flags[start : start + m] = True
        per_row[start : start + m] = np.maximum(per_row[start : start + m], ab[start])
    return MethodOutput(
        events=merge_flags(flags, per_row, 0),
        point_scores=point_scores,
        top1=int(np.argmax(ab)),
        change_points=[e.start for e in merge_flags(flags, per_row, 0)],
        seconds=time.perf_counter() - started,
    )


def binseg(series: EvalSeries) -> MethodOutput:
    """ruptures Binseg, l2 cost on the z-scored series, penalty ``BINSEG_PENALTY * log(n)``."""
    started = time.perf_counter()
    x = _filled(series.values)
    n = x.size
    signal = ((x - x.mean()) / (float(np.std(x)) or 1.0)).reshape(-1, 1)
    jump = max(1, n // BINSEG_FINE_ROWS)
    change_points: list[int] = []
    if n >= 4:
        algo = ruptures.Binseg(model="l2", min_size=2, jump=jump).fit(signal)
        change_points = [int(b) for b in algo.predict(pen=BINSEG_PENALTY * math.log(n)) if b < n]
    point_scores = np.zeros(n)
    point_scores[change_points] = 1.0
    return MethodOutput(
        events=[Event(c, c, 1.0) for c in change_points],
        point_scores=point_scores,
        top1=None,
        change_points=change_points,
        seconds=time.perf_counter() - started,
        online=False,
    )


def never(series: EvalSeries) -> MethodOutput:
    """A detector that never fires."""
    return MethodOutput([], np.zeros(series.n))


#: Baselines by report name.
BASELINES: dict[str, Callable[[EvalSeries], MethodOutput | None]] = {
    "rolling z-score": rolling_z,
    "MP discord (batch top-1)": mp_discord,
    "MP discord (train-referenced)": train_discord,
    "Binseg (BIC penalty)": binseg,
    "never fires": never,
}
