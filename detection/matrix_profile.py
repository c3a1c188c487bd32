"""Matrix-profile discords: the left matrix profile, batch and streaming.

The left matrix profile value of a subsequence is its z-normalised Euclidean distance
to the nearest earlier subsequence, outside stumpy's exclusion zone
(``ceil(m / 4)`` positions). Here "earlier" is bounded: only subsequences lying fully
inside the last ``window`` points up to the subsequence's end count, which is what
``stumpy.stumpi(..., egress=True)`` keeps current.

Constant subsequences follow stumpy's convention: two constant subsequences are at
distance 0, a constant and a non-constant one at ``sqrt(m)``. A subsequence that
contains NaN or inf has no distance (``inf``) and is never a discord.

References
----------
Yeh et al., "Matrix Profile I", ICDM 2016; Zhu et al., "Matrix Profile II" (STOMP),
ICDM 2016 -- the incremental update STAMPI/STOMPI used by ``stumpy.stumpi``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
import stumpy
from numpy.typing import NDArray

from detection.base import Detector
from detection.config import MAD_TO_STD, SEASON_LAGS, DetectorConfig
from detection.events import EventBuilder
from detection.history import Baseline, History
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)

#: Points either side of the same phase one period earlier that count as that phase.
PHASE_JITTER = 2


def enable_compile_cache() -> None:
    """Let numba cache stumpy's compiled kernels on disk (under ``NUMBA_CACHE_DIR``).

    Without it every new process spends about 20-30 s compiling before its first
    matrix profile; with it a second process starts in well under a second.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        stumpy.cache._enable()


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run stumpy's numba kernels on one thread inside the block (this thread only).

    ``stumpi.update`` calls parallel kernels on arrays of ``m`` points; on a busy machine
    the thread-pool hand-off costs 5-20 ms per update against 0.1 ms on one thread.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def exclusion_zone(m: int) -> int:
    """Half-width of stumpy's exclusion zone around a subsequence, positions."""
    return int(math.ceil(m / 4))


def dominant_period(values: NDArray[np.float64], max_lag: int) -> int | None:
    """Dominant period of a series from its autocorrelation.

    Parameters
    ----------
    values : ndarray of float64
        Finite samples, evenly spaced.
    max_lag : int
        Largest period considered, points.

    Returns
    -------
    int or None
        Lag (points) of the highest autocorrelation peak after the first zero
        crossing, or None when there is no clear peak (correlation below 0.2).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 8 or np.ptp(x) == 0:
        return None

    # autocorrelation through the FFT (Wiener-Khinchin), zero-padded
    x = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    acf = acf / acf[0]

    limit = min(max_lag, n // 2)
    below = np.flatnonzero(acf[1 : limit + 1] < 0)
    if below.size == 0:
        return None
    first = int(below[0]) + 1
    if first >= limit:
        return None
    lag = first + int(np.argmax(acf[first : limit + 1]))
    if acf[lag] < 0.2:
        return None
    return lag


def seasonal_period(history: History) -> int | None:
    """Period a channel's window shows, as the seasonal comparisons use it (None: none).

    Periods up to a ``SEASON_LAGS + 2``-th of the window are looked for, so the window
    holds the ``SEASON_LAGS`` earlier periods a value is compared with; lags below two
    points are no period.
    """
    period = dominant_period(history.values, max_lag=history.capacity // (SEASON_LAGS + 2))
    return period if period is not None and period >= 2 else None


def choose_m(values: NDArray[np.float64], config: DetectorConfig) -> int:
    """Subsequence length: configured, or the dominant period clamped to the bounds."""
    if config.m is not None:
        return config.m
    upper = min(config.m_max, values.size // 4)
    period = dominant_period(values, max_lag=max(upper, 1) * 2)
    m = config.m_default if period is None else period
    return int(min(max(m, config.m_min), max(upper, config.m_min)))


def left_matrix_profile(
    values: NDArray[np.float64], m: int, window: int | None = None
) -> NDArray[np.float64]:
    """Left matrix profile over a bounded left window.

    Parameters
    ----------
    values : ndarray of float64
        The series; NaN/inf allowed (subsequences containing them get ``inf``).
    m : int
        Subsequence length, points (>= 3).
    window : int or None
        Only subsequences lying inside the last ``window`` points up to the end of the
        scored subsequence are compared; None compares with the whole past.

    Returns
    -------
    ndarray of float64
        ``len(values) - m + 1`` distances (z-normalised Euclidean); ``inf`` where no
        earlier subsequence exists or the subsequence is not finite.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"values must be a 1-D array, got shape {values.shape}; pass one channel")
    if not isinstance(m, int | np.integer) or m < 3:
        raise ValueError(f"m must be an int >= 3, got {m!r}; pass a subsequence length")
    if values.size < m:
        raise ValueError(
            f"values has {values.size} points, fewer than m={m}; pass a longer series"
        )
    if window is not None and window < m:
        raise ValueError(f"window={window} is shorter than m={m}; pass None or a window >= m")
    with single_threaded():
        return _left_matrix_profile(values.astype(np.float64), int(m), window)


def _left_matrix_profile(
    values: NDArray[np.float64], m: int, window: int | None
) -> NDArray[np.float64]:
    n_sub = values.size - m + 1
    excl = exclusion_zone(m)
    out = np.full(n_sub, np.inf)
    finite = np.isfinite(values)
    sub_finite = np.convolve(~finite, np.ones(m), mode="valid") == 0

    for i in range(excl + 1, n_sub):
        if not sub_finite[i]:
            continue
        lo = 0 if window is None else max(0, i + m - window)
        hi = i - excl  # candidates j in [lo, hi)
        if hi <= lo:
            continue
        distances = stumpy.mass(values[i : i + m], values[lo : hi + m - 1])
        distances = np.where(sub_finite[lo:hi], distances, np.inf)
        out[i] = float(np.min(distances))
    return out


def _stumpi(values: NDArray[np.float64], m: int, egress: bool) -> stumpy.stumpi:
    with warnings.catch_warnings():
        # stumpy warns when many profile values are ~0 (e.g. exactly periodic data);
        # that is a property of the channel here, not a misuse
        warnings.filterwarnings("ignore", message="A large number of values", category=UserWarning)
        return stumpy.stumpi(values, m, egress=egress)


class LeftProfileStream:
    """The left matrix-profile value of each new subsequence over a sliding window.

    The egressing STOMPI update (Zhu et al. 2016, Table V) of ``stumpy.stumpi`` reduced
    to what a streaming detector reads: the distance profile of the newest subsequence
    against the window and its minimum outside the exclusion zone. It starts from the
    state of an egressing ``stumpy.stumpi`` and calls stumpy's own kernels for the
    distances and the subsequence statistics, so every value equals
    ``stumpi.left_P_[-1]`` after the same update; it skips stumpi's generic input
    processing (about two thirds of an update's cost) and the right-neighbour updates
    of older subsequences, which nothing here reads.

    Parameters
    ----------
    stream : stumpy.stumpi
        A stream created with ``egress=True``; its arrays are copied.
    """

    def __init__(self, stream: stumpy.stumpi) -> None:
        if not stream._egress:
            raise ValueError(
                "stream must be created with egress=True; pass stumpy.stumpi(..., egress=True)"
            )
        self.m = int(stream._m)
        self._excl = int(stream._excl_zone)
        self._T = np.array(stream._T, dtype=np.float64)
        self._finite = np.array(stream._T_isfinite, dtype=bool)
        self._QT = np.array(stream._QT, dtype=np.float64)
        self._M_T = np.array(stream._M_T, dtype=np.float64)
        self._S_T = np.array(stream._Σ_T, dtype=np.float64)
        self._const = np.array(stream._T_subseq_isconstant, dtype=bool)
        self._QT_new = np.empty_like(self._QT)

    @property
    def T_(self) -> NDArray[np.float64]:
        """The window's points (non-finite ones stored as 0, as stumpy does)."""
        return self._T

    def update(self, t: float) -> float:
        """Slide the window by one point ``t``; return the newest subsequence's left-MP value."""
        m, T = self.m, self._T
        last = T.size - m  # index of the newest subsequence once the window has slid
        T[:-1] = T[1:]
        self._finite[:-1] = self._finite[1:]
        finite = math.isfinite(t)
        value = t if finite else 0.0
        T[-1] = value
        self._finite[-1] = finite
        self._QT[:-1] = self._QT[1:]
        self._M_T[:-1] = self._M_T[1:]
        self._S_T[:-1] = self._S_T[1:]
        self._const[:-1] = self._const[1:]

        newest = T[last:]
        all_finite = bool(self._finite[-m:].all())
        if all_finite:
            q_const = bool(np.ptp(newest) == 0)
            q_mean = float(np.mean(newest[np.newaxis, :], axis=1)[0])
            q_std = float(stumpy.core._rolling_nanstd_1d(newest, m)[0])
        else:
            q_const, q_mean, q_std = False, math.inf, math.nan
        self._M_T[-1] = q_mean
        self._S_T[-1] = q_std
        self._const[-1] = q_const

        # sliding dot products of the newest subsequence with every subsequence
        dropped = T[last - 1]
        qt = self._QT_new
        qt[1:] = self._QT[:last] - T[:last] * dropped + T[m:] * value
        qt[0] = np.sum(T[:m] * newest[:m])
        self._QT[:] = qt
        if not all_finite:
            return math.inf

        distances = stumpy.core.calculate_distance_profile(
            m, qt, q_mean, q_std, self._M_T, self._S_T, q_const, self._const
        )
        earlier = distances[: max(last - self._excl, 0)]
        if earlier.size == 0:
            return math.inf
        return float(np.min(np.where(np.isnan(earlier), np.inf, earlier)))


class MatrixProfileScorer:
    """Left matrix profile of each new subsequence, normalised per channel.

    Parameters
    ----------
    values : ndarray of float64
        Finite warm-up points used to initialise ``stumpy.stumpi``.
    m : int
        Subsequence length, points.
    window : int
        Bounded history length, points; once reached, ``stumpi`` egresses.
    history_len : int
        Number of recent left-MP values used for the robust z.
    scale_floor : float
        Floor of the left-MP spread as a fraction of ``sqrt(m)``.
    """

    def __init__(
        self,
        values: NDArray[np.float64],
        m: int,
        window: int,
        history_len: int,
        scale_floor: float,
    ) -> None:
        self.m = m
        self.window = window
        self.floor = scale_floor * math.sqrt(m)
        values = np.asarray(values, dtype=np.float64)[-window:]
        stream = _stumpi(values, m, egress=values.size >= window)
        initial = np.asarray(stream.left_P_, dtype=np.float64)
        # a growing stumpi until the window is full, then the lighter sliding update
        self._growing: stumpy.stumpi | None = None
        self._sliding: LeftProfileStream | None = None
        if values.size >= window:
            self._sliding = LeftProfileStream(stream)
        else:
            self._growing = stream
        # the first subsequences were compared with almost nothing: skip the first half
        initial = initial[initial.size // 2 :]
        self._recent = np.full(history_len, np.nan)
        finite = initial[np.isfinite(initial)][-history_len:]
        self._recent[: finite.size] = finite
        self._n_recent = finite.size
        self._pos = finite.size % history_len
        self._med = math.nan
        self._scale = math.nan
        self._stale = True
        #: the channel's period, points: a left-MP value no higher than the ones at the
        #: same phase of the last ``SEASON_LAGS`` periods is no discord (None: unknown)
        self.period: int | None = None

    def update(self, value: float) -> tuple[float, float]:
        """Add one finite point; return its subsequence's left-MP value and robust z.

        The z is NaN until enough left-MP values exist or when the value is infinite.
        """
        if self._growing is not None and self._growing.T_.size >= self.window:
            # the window is full: continue with a bounded (egressing) stream
            self._sliding = LeftProfileStream(_stumpi(self._growing.T_, self.m, egress=True))
            self._growing = None
        with single_threaded():
            if self._sliding is not None:
                lp = self._sliding.update(value)
            else:
                assert self._growing is not None
                self._growing.update(value)
                lp = float(self._growing.left_P_[-1])
        if not math.isfinite(lp):
            return lp, math.nan

        z = math.nan
        if self._n_recent >= 2 * self.m:
            if self._stale:
                recent = self._recent[: self._n_recent]
                self._med = float(np.median(recent))
                mad = float(np.median(np.abs(recent - self._med)))
                self._scale = max(MAD_TO_STD * mad, self.floor)
                self._stale = False
            z = (lp - self._med) / self._scale
            if self.period is not None:
                z = min(z, self._seasonal_z(lp))
        self._recent[self._pos] = lp
        self._pos = (self._pos + 1) % self._recent.size
        self._n_recent = min(self._n_recent + 1, self._recent.size)
        self._stale = True
        return lp, z

    def _seasonal_z(self, lp: float) -> float:
        """Robust z of ``lp`` over the highest left-MP value at its phase in past periods.

        Phases within ``PHASE_JITTER`` points count as the same; inf while fewer than
        ``SEASON_LAGS`` periods of values are kept.
        """
        period = self.period
        if period is None or SEASON_LAGS * period + PHASE_JITTER >= self._n_recent:
            return math.inf
        size = self._recent.size
        back = np.array(
            [
                k * period + j
                for k in range(1, SEASON_LAGS + 1)
                for j in range(-PHASE_JITTER, PHASE_JITTER + 1)
            ]
        )
        same_phase = self._recent[(self._pos - back) % size]
        return (lp - float(np.nanmax(same_phase))) / self._scale


class MatrixProfileDetector(Detector):
    """Discords of the bounded left matrix profile (``stumpy.stumpi``).

    A point is flagged when the subsequence ending at it has a left-MP robust z of at
    least ``mp_threshold``. The event starts at the first flagged point and ends
    ``m - 1`` points before the last flagged one (the subsequences that merely still
    contain the anomaly), never before its start.
    """

    name = "matrix_profile"
    window_referenced = True

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self._start_profile(history, m)
        #: events closed by a change of ``m``, not drained yet
        self._carried: list[DetectedAnomaly] = []

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        value = float(history.values[-1])
        _, z = self.scorer.update(value)
        index = history.last_index
        deviation = (value - baseline.median) / baseline.scale
        self.events.tick(index, deviation)
        if not report or not z >= self.config.mp_threshold:
            return

        if self.events.is_open:
            end_index = max(index - self.m + 1, 0)
        else:
            end_index = index
        window_values = history.values[max(history.size - self.m, 0) :]
        self.events.flag(
            index=index,
            start_index=index,
            start_ts=history.ts_at(index),
            end_index=end_index,
            end_ts=history.ts_at(end_index),
            score=z,
            deviation=deviation,
            baseline_median=baseline.median,
            flat=bool(np.ptp(window_values) == 0),
        )

    def _start_profile(self, history: History, m: int) -> None:
        """Left profile over the window and an event builder, for subsequences of ``m``."""
        config = self.config
        self.m = m
        self.scorer = MatrixProfileScorer(
            history.values.copy(), m, config.window, config.mp_history, config.mp_scale_floor
        )
        tolerance = config.merge_tolerance if config.merge_tolerance is not None else m
        self.events = EventBuilder(
            self.name,
            tolerance,
            config.spike_max_points,
            config.spike_kind_deviation,
            {"m": m, "window": config.window},
        )

    def relearn(self, history: History) -> None:
        """Lengthen ``m`` when the full window shows a longer period than the warm-up.

        What is open is closed first; the profile restarts over the window with the new
        length (the old one keeps its events).
        """
        if self.config.m is not None:
            return
        m = choose_m(history.values, self.config)
        if m <= self.m:
            return
        logger.info("subsequence length %d -> %d after a full window", self.m, m)
        self.events.close()
        self._carried = self.events.drain()
        self._start_profile(history, m)
        self.scorer.period = seasonal_period(history)

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        carried, self._carried = self._carried, []
        return carried + self.events.drain()
