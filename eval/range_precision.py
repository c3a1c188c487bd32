"""Range-aware precision: the share of flagged points that lie in or near a labelled window.

Event-wise precision counts a long false alarm and a short one alike; this metric
weighs every flagged point equally, so it says how much of what an operator is shown
is actually anomalous (after Tatbul et al., "Precision and Recall for Time Series",
NeurIPS 2018, with a flat bias and no cardinality factor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IndexWindow = tuple[int, int]


@dataclass(frozen=True)
class RangePrecision:
    """Flagged points and how many of them fall in or near a labelled window."""

    flagged: int
    flagged_near_label: int

    @property
    def precision(self) -> float:
        """Share of flagged points near a label; NaN when nothing was flagged."""
        return self.flagged_near_label / self.flagged if self.flagged else float("nan")

    def __add__(self, other: RangePrecision) -> RangePrecision:
        return RangePrecision(
            self.flagged + other.flagged, self.flagged_near_label + other.flagged_near_label
        )


def _mask(n: int, windows: Iterable[IndexWindow], widen: int) -> NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    for start, end in windows:
        lo, hi = max(int(start) - widen, 0), min(int(end) + widen, n - 1)
        if hi >= lo:
            mask[lo : hi + 1] = True
    return mask


def range_precision(
    n: int,
    labelled: Sequence[IndexWindow],
    detected: Sequence[IndexWindow],
    tolerance: int = 0,
) -> RangePrecision:
    """Point-weighted precision of detected windows against labelled ones.

    Parameters
    ----------
    n : int
        Length of the series, points.
    labelled, detected : sequence of (start, end)
        Inclusive row-index windows. Overlapping detections count each point once.
    tolerance : int
        Points a labelled window is widened by on each side ("near").

    Returns
    -------
    RangePrecision
        Counts that add up across series (micro average).
    """
    if n < 0 or tolerance < 0:
        raise ValueError(f"n and tolerance must be >= 0, got n={n}, tolerance={tolerance}")
    flagged = _mask(n, detected, 0)
    near = _mask(n, labelled, tolerance)
    return RangePrecision(int(flagged.sum()), int((flagged & near).sum()))
