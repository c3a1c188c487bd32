"""Reference discords: each new subsequence against the channel's known-normal history.

When a channel is given known-normal history (``ChannelDetector.set_reference``: a
train split, or the training range of its model), that history is the *reference*.
Every new subsequence of ``reference_m`` points ending at the newest point is compared
with all subsequences of the reference (an AB-join, one query at a time); its nearest-neighbour
distance is scored against the reference's own self-join (nearest non-trivial
neighbour of each reference subsequence): ``z = (d - mean) / std`` of the self-join,
flagged from ``reference_sigmas``. An anomaly in the new data never becomes its own
neighbour, unlike in the left matrix profile.

Distances are z-normalised Euclidean, except on *discrete* channels (the reference takes
at most ``DISCRETE_SHARE`` times its length distinct values: commanded states, square
waves, flags), where z-normalisation of flat stretches is meaningless and the plain
Euclidean distance is used.

References
----------
Yeh et al., "Matrix Profile I: All pairs similarity joins", ICDM 2016 (AB-join);
Mueen et al., MASS (distance profile through the FFT).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import stumpy
from numpy.typing import NDArray

from detection.base import Detector
from detection.config import DetectorConfig
from detection.events import EventBuilder
from detection.history import Baseline, History
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)

#: A reference with at most this share of distinct values (of its length) is discrete
#: and compared without z-normalisation, fraction.
DISCRETE_SHARE = 0.05
#: Floor of the self-join spread, z-normalised distances, fraction of ``sqrt(m)``.
FLOOR_NORMALISED = 0.02
#: Floor of the self-join spread, plain distances, fraction of ``sqrt(m)`` times the
#: reference's value scale (its range, or its median's magnitude when constant).
FLOOR_PLAIN = 0.05
#: Standard deviation below which a subsequence counts as constant, value units
#: (relative to the subsequence's magnitude).
CONSTANT_RTOL = 1e-8


def is_discrete(values: NDArray[np.float64]) -> bool:
    """Whether ``values`` take few distinct values (``DISCRETE_SHARE`` of their count)."""
    return bool(np.unique(values).size <= DISCRETE_SHARE * values.size)


def _sliding_sums(values: NDArray[np.float64], m: int) -> tuple[NDArray[np.float64], ...]:
    """Sliding sum and sum of squares of every length-``m`` subsequence."""
    c1 = np.concatenate([[0.0], np.cumsum(values)])
    c2 = np.concatenate([[0.0], np.cumsum(values * values)])
    return c1[m:] - c1[:-m], c2[m:] - c2[:-m]


class ReferenceProfile:
    """Distance of a query subsequence to its nearest neighbour in a frozen reference.

    The reference's FFT is computed once, so one query costs two FFTs of the
    reference's (padded) length.

    Parameters
    ----------
    reference : ndarray of float64
        Finite reference samples, oldest first.
    m : int
        Subsequence length, points.
    normalize : bool
        z-normalised Euclidean distance when True, plain Euclidean when False.
    """

    def __init__(self, reference: NDArray[np.float64], m: int, normalize: bool) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        self.m = m
        self.normalize = normalize
        self.size = 1 << (ref.size + m).bit_length()
        self._fft = np.fft.rfft(ref, self.size)
        sums, squares = _sliding_sums(ref, m)
        self._squares = squares
        self._mean = sums / m
        var = np.maximum(squares / m - self._mean**2, 0.0)
        self._std = np.sqrt(var)
        scale = np.maximum(np.abs(self._mean), 1.0)
        self._constant = self._std <= CONSTANT_RTOL * scale

    def distance(self, query: NDArray[np.float64]) -> float:
        """Nearest-neighbour distance of ``query`` (``m`` points) in the reference."""
        q = np.asarray(query, dtype=np.float64)
        m = self.m
        products = np.fft.irfft(np.fft.rfft(q[::-1], self.size) * self._fft, self.size)
        dots = products[m - 1 : m - 1 + self._mean.size]
        if not self.normalize:
            squared = float(q @ q) + self._squares - 2.0 * dots
            return math.sqrt(max(float(np.min(squared)), 0.0))

        q_mean = float(q.mean())
        q_std = float(q.std())
        if q_std <= CONSTANT_RTOL * max(abs(q_mean), 1.0):
            # stumpy's convention: constant to constant 0, constant to varying sqrt(m)
            return 0.0 if bool(self._constant.any()) else math.sqrt(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = (dots - m * q_mean * self._mean) / (m * q_std * self._std)
        corr = np.where(self._constant, 0.0, np.clip(corr, -1.0, 1.0))
        return math.sqrt(max(2.0 * m * (1.0 - float(np.max(corr))), 0.0))


def self_join(reference: NDArray[np.float64], m: int, normalize: bool) -> NDArray[np.float64]:
    """Nearest non-trivial neighbour distance of every reference subsequence (stumpy)."""
    with warnings.catch_warnings():
        # a reference with exact repeats (flat or periodic data) trips stumpy's hint
        warnings.filterwarnings("ignore", message="A large number of values", category=UserWarning)
        profile = stumpy.stump(reference, m, normalize=normalize)[:, 0].astype(np.float64)
    return profile[np.isfinite(profile)]


class ReferenceDetector(Detector):
    """Discords against the channel's reference (see the module docstring).

    The reference comes from :meth:`ChannelDetector.set_reference
    <detection.stream.ChannelDetector.set_reference>`; with fewer than
    ``reference_min`` points (or four subsequences' worth) the detector stays silent.
    Only subsequences made of points scored after the reference are compared. The
    event of a flagged subsequence starts at the subsequence's first point and ends at
    its last; flags less than ``m`` points apart extend one event.
    """

    name = "reference"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self.profile: ReferenceProfile | None = None
        self._mean = 0.0
        self._scale = 1.0
        self._scored = 0
        self.ref_m = config.reference_m
        tolerance = config.merge_tolerance if config.merge_tolerance is not None else m
        self.events = EventBuilder(
            self.name,
            tolerance,
            config.spike_max_points,
            config.spike_kind_deviation,
            {"m": config.reference_m, "window": config.window},
        )

    @property
    def active(self) -> bool:
        """Whether a reference was built (the detector scores points)."""
        return self.profile is not None

    def use_reference(self, reference: NDArray[np.float64]) -> None:
        cfg = self.config
        reference = np.asarray(reference, dtype=np.float64)[-cfg.reference_points :]
        m = min(cfg.reference_m, reference.size // 4)
        if reference.size < cfg.reference_min or m < 3:
            logger.info("reference of %d points is too short; not used", reference.size)
            return
        normalize = not is_discrete(reference)
        joined = self_join(reference, m, normalize)
        if joined.size == 0:
            return

        if normalize:
            floor = FLOOR_NORMALISED * math.sqrt(m)
        else:
            spread = float(np.ptp(reference)) or abs(float(np.median(reference))) or 1.0
            floor = FLOOR_PLAIN * math.sqrt(m) * spread
        self._mean = float(joined.mean())
        self._scale = max(float(joined.std()), floor)
        self.ref_m = m
        self.events.tolerance = max(self.events.tolerance, m)
        self.profile = ReferenceProfile(reference, m, normalize)
        self.events.params.update({"m": m, "normalized": normalize})
        logger.info(
            "reference of %d points, m=%d, %s distance, self-join %.3f +- %.3f",
            reference.size,
            m,
            "z-normalised" if normalize else "plain",
            self._mean,
            self._scale,
        )

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        if not report or self.profile is None:
            return
        index = history.last_index
        value = float(history.values[-1])
        deviation = (value - baseline.median) / baseline.scale
        self.events.tick(index, deviation)
        self._scored += 1
        m = self.ref_m
        if self._scored < m:
            # a subsequence reaching into the reference itself is not new data
            return

        z = (self.profile.distance(history.values[-m:]) - self._mean) / self._scale
        if not z >= self.config.reference_sigmas:
            return
        start_index = index - m + 1
        self.events.flag(
            index=index,
            start_index=start_index,
            start_ts=history.ts_at(start_index),
            end_index=index,
            end_ts=history.ts_at(index),
            score=z,
            deviation=deviation,
            baseline_median=baseline.median,
            flat=bool(np.ptp(history.values[-m:]) == 0),
        )

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
