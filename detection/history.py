"""Bounded per-channel history (ring buffer) and its baseline statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detection.config import CADENCE_QUANTILE, CADENCE_TOLERANCE, MAD_TO_STD


@dataclass(frozen=True)
class Baseline:
    """Robust statistics of the history window.

    Attributes
    ----------
    median : float
        Median of the window's values, value units.
    scale : float
        Robust standard deviation (1.4826 MAD, floored), value units; never zero.
    cadence : float
        Median time between consecutive points, nanoseconds; 0 when unknown.
    regular_share : float
        Share of the window's time deltas within ``CADENCE_TOLERANCE`` of ``cadence``
        (1.0 for a perfectly regular channel), fraction.
    cadence_high : float
        ``CADENCE_QUANTILE`` quantile of the window's time deltas, nanoseconds: the
        longest delta the channel shows routinely.
    """

    median: float
    scale: float
    cadence: float
    regular_share: float = 1.0
    cadence_high: float = 0.0


class History:
    """The last ``capacity`` finite points of a channel, oldest first.

    Points are numbered by a global index that counts every point ever appended, so an
    index stays valid while the point is in the window.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ts = np.empty(capacity, dtype=np.int64)
        self._values = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.count = 0

    def append(self, ts: int, value: float) -> None:
        """Append one point, dropping the oldest when full."""
        if self.size == self.capacity:
            self._ts[:-1] = self._ts[1:]
            self._values[:-1] = self._values[1:]
            self.size -= 1
        self._ts[self.size] = ts
        self._values[self.size] = value
        self.size += 1
        self.count += 1

    @property
    def values(self) -> NDArray[np.float64]:
        """View of the values in the window, oldest first."""
        return self._values[: self.size]

    @property
    def timestamps(self) -> NDArray[np.int64]:
        """View of the timestamps (ns since epoch, UTC) in the window, oldest first."""
        return self._ts[: self.size]

    @property
    def last_index(self) -> int:
        """Global index of the newest point."""
        return self.count - 1

    def position(self, index: int) -> int:
        """Position in the window of the point with global ``index`` (clamped)."""
        return min(max(index - (self.count - self.size), 0), self.size - 1)

    def ts_at(self, index: int) -> int:
        """Timestamp of the point with global ``index`` (clamped to the window)."""
        return int(self._ts[self.position(index)])

    def value_at(self, index: int) -> float:
        """Value of the point with global ``index`` (clamped to the window)."""
        return float(self._values[self.position(index)])

    def baseline(self, scale_floor: float) -> Baseline:
        """Robust statistics of the window.

        Parameters
        ----------
        scale_floor : float
            Fraction of the window's standard deviation used as a floor of the robust
            scale, so channels that sit mostly on one value (MAD = 0) still get a
            finite score.

        Returns
        -------
        Baseline
            Median, robust scale and median cadence of the window.
        """
        values = self.values
        median = float(np.median(values))
        mad = float(np.median(np.abs(values - median)))
        floor = scale_floor * float(np.std(values))
        tiny = 1e-9 * max(1.0, abs(median))
        scale = max(MAD_TO_STD * mad, floor, tiny)
        if self.size < 2:
            return Baseline(median=median, scale=scale, cadence=0.0)
        deltas = np.diff(self.timestamps)
        cadence = float(np.median(deltas))
        regular = float(np.mean(np.abs(deltas - cadence) <= CADENCE_TOLERANCE * cadence))
        high = float(np.quantile(deltas, CADENCE_QUANTILE))
        return Baseline(
            median=median, scale=scale, cadence=cadence, regular_share=regular, cadence_high=high
        )
