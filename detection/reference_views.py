"""How new subsequences are compared with a channel's reference: distances and their tails.

:class:`ReferenceProfile` gives the nearest-neighbour distance of one query subsequence
in the reference (an AB-join, one query at a time), plain and z-normalised at once.
:class:`TailScale` turns a distance into a score on one scale for every view: minus the
log of the estimated probability that a reference subsequence lies that far from its
nearest neighbour (the tail of the reference's self-join, peaks over a high quantile
with an exponential excess).

References
----------
Yeh et al., "Matrix Profile I: All pairs similarity joins", ICDM 2016 (AB-join);
Mueen et al., MASS (distance profile through the FFT);
Siffer et al., "Anomaly detection in streams with extreme value theory", KDD 2017
(peaks over a high quantile).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import stumpy
from numpy.typing import NDArray

#: A reference with at most this share of distinct values (of its length) is discrete
#: and compared without z-normalisation, fraction.
DISCRETE_SHARE = 0.05
#: Floor of a spread of z-normalised distances, fraction of ``sqrt(m)``.
FLOOR_NORMALISED = 0.02
#: Floor of a spread of plain distances on discrete channels, fraction of ``sqrt(m)``
#: times the reference's value scale (its range, or its median's magnitude when
#: constant).
FLOOR_PLAIN = 0.05
#: Floor of the tail scale of plain distances on other channels, same unit as
#: ``FLOOR_PLAIN``; their self-join tails are far thinner (0.0001 to 0.05 on the UCR
#: and SMAP/MSL references) and a floor of 0.05 would flatten them.
FLOOR_PLAIN_TAIL = 0.001
#: Standard deviation below which a subsequence counts as constant, value units
#: (relative to the subsequence's magnitude).
CONSTANT_RTOL = 1e-8
#: Subsequences up to this length are compared by direct dot products, longer ones
#: through the FFT, points.
DIRECT_MAX_M = 16


def is_discrete(values: NDArray[np.float64]) -> bool:
    """Whether ``values`` take few distinct values (``DISCRETE_SHARE`` of their count)."""
    return bool(np.unique(values).size <= DISCRETE_SHARE * values.size)


def _sliding_sums(values: NDArray[np.float64], m: int) -> tuple[NDArray[np.float64], ...]:
    """Sliding sum and sum of squares of every length-``m`` subsequence."""
    c1 = np.concatenate([[0.0], np.cumsum(values)])
    c2 = np.concatenate([[0.0], np.cumsum(values * values)])
    return c1[m:] - c1[:-m], c2[m:] - c2[:-m]


class ReferenceProfile:
    """Distances of a query subsequence to its nearest neighbours in a frozen reference.

    For long subsequences the reference's FFT is computed once, so one query costs two
    FFTs of the reference's (padded) length; short ones use direct dot products. One
    query gives both the plain and the z-normalised distance.

    Parameters
    ----------
    reference : ndarray of float64
        Finite reference samples, oldest first.
    m : int
        Subsequence length, points.
    normalize : bool
        Which distance :meth:`distance` returns: z-normalised Euclidean when True,
        plain Euclidean when False.
    """

    def __init__(self, reference: NDArray[np.float64], m: int, normalize: bool) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        self.m = m
        self.normalize = normalize
        self.size = 1 << (ref.size + m).bit_length()
        self._windows: NDArray[np.float64] | None = None
        self._fft: NDArray[np.complex128] | None = None
        if m <= DIRECT_MAX_M:
            self._windows = np.lib.stride_tricks.sliding_window_view(ref, m)
        else:
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
        plain, normalised = self.distances(query)
        return normalised if self.normalize else plain

    def distances(self, query: NDArray[np.float64]) -> tuple[float, float]:
        """Plain and z-normalised nearest-neighbour distances of ``query`` (``m`` points)."""
        q = np.asarray(query, dtype=np.float64)
        m = self.m
        if self._fft is None:
            assert self._windows is not None
            dots = self._windows @ q
        else:
            products = np.fft.irfft(np.fft.rfft(q[::-1], self.size) * self._fft, self.size)
            dots = products[m - 1 : m - 1 + self._mean.size]
        squared = float(q @ q) + self._squares - 2.0 * dots
        plain = math.sqrt(max(float(np.min(squared)), 0.0))

        q_mean = float(q.mean())
        q_std = float(q.std())
        if q_std <= CONSTANT_RTOL * max(abs(q_mean), 1.0):
            # stumpy's convention: constant to constant 0, constant to varying sqrt(m)
            return plain, 0.0 if bool(self._constant.any()) else math.sqrt(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = (dots - m * q_mean * self._mean) / (m * q_std * self._std)
        corr = np.where(self._constant, 0.0, np.clip(corr, -1.0, 1.0))
        return plain, math.sqrt(max(2.0 * m * (1.0 - float(np.max(corr))), 0.0))


def self_join(reference: NDArray[np.float64], m: int, normalize: bool) -> NDArray[np.float64]:
    """Nearest non-trivial neighbour distance of every reference subsequence (stumpy)."""
    with warnings.catch_warnings():
        # a reference with exact repeats (flat or periodic data) trips stumpy's hint
        warnings.filterwarnings("ignore", message="A large number of values", category=UserWarning)
        profile = stumpy.stump(reference, m, normalize=normalize)[:, 0].astype(np.float64)
    return profile[np.isfinite(profile)]


@dataclass(frozen=True)
class TailScale:
    """Exponential tail of a view's self-join distances (peaks over a high quantile).

    Above the ``1 - share`` quantile ``start`` the distances are taken to fall off
    exponentially with mean excess ``scale``, so a distance ``d`` has an estimated
    exceedance probability ``share * exp(-(d - start) / scale)``; :meth:`score` is minus
    its natural log (about 4.6 at the quantile for ``share`` 0.01, plus one per
    ``scale`` beyond it).

    Attributes
    ----------
    start : float
        The ``1 - share`` quantile of the self-join distances.
    scale : float
        Mean excess of the distances above ``start`` (floored), distance units.
    share : float
        Share of the self-join distances in the tail, fraction.
    """

    start: float
    scale: float
    share: float

    @classmethod
    def fit(cls, joined: NDArray[np.float64], share: float, floor: float) -> TailScale:
        """Fit the tail of ``joined`` distances; ``floor`` bounds the scale from below."""
        start = float(np.quantile(joined, 1.0 - share))
        excess = joined[joined > start] - start
        mean_excess = float(excess.mean()) if excess.size else 0.0
        return cls(start, max(mean_excess, floor), share)

    def score(self, distance: float) -> float:
        """Minus the log of the estimated exceedance probability of ``distance``."""
        return math.log(1.0 / self.share) + (distance - self.start) / self.scale


@dataclass(frozen=True)
class View:
    """One way of comparing new subsequences with the reference.

    Attributes
    ----------
    m : int
        Subsequence length, points.
    normalize : bool
        z-normalised distance when True, plain when False.
    tail : TailScale
        Tail of the view's self-join distances.
    """

    m: int
    normalize: bool
    tail: TailScale

    @property
    def label(self) -> str:
        """Short name, e.g. ``"z100"`` or ``"plain4"``."""
        return f"{'z' if self.normalize else 'plain'}{self.m}"


def spread_floor(reference: NDArray[np.float64], m: int, normalize: bool) -> float:
    """Floor of the self-join spread, so near-exact repeats do not inflate scores."""
    if normalize:
        return FLOOR_NORMALISED * math.sqrt(m)
    spread = float(np.ptp(reference)) or abs(float(np.median(reference))) or 1.0
    share = FLOOR_PLAIN if is_discrete(reference) else FLOOR_PLAIN_TAIL
    return share * math.sqrt(m) * spread


def fit_view(
    reference: NDArray[np.float64],
    m: int,
    normalize: bool,
    share: float,
    joined: NDArray[np.float64] | None = None,
) -> View | None:
    """The view of ``m`` points (``joined``: its self-join, if already computed)."""
    if joined is None:
        joined = self_join(reference, m, normalize)
    if joined.size == 0:
        return None
    return View(m, normalize, TailScale.fit(joined, share, spread_floor(reference, m, normalize)))
