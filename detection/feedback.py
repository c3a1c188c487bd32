"""Operator feedback: anomalies shaped like known false positives score lower.

Every anomaly carries its *shape* (``params["shape"]``): the ``m`` points that end at
its start, z-normalised and resampled to ``SHAPE_POINTS`` values. When an operator
marks an anomaly ``false_positive``, the caller hands its shape back to the channel's
detector (``ChannelDetector(false_positives=...)``); a later anomaly whose shape lies
within ``SIMILAR_DISTANCE`` of one of them has its score multiplied by
``FALSE_POSITIVE_DISCOUNT`` (and its severity recomputed), with
``params["feedback"]`` saying why.

The distance is the Euclidean distance of the two z-normalised shapes divided by
``sqrt(SHAPE_POINTS)``: ``sqrt(2 (1 - r))`` for their correlation ``r``, in ``[0, 2]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

#: Values of a stored shape, points.
SHAPE_POINTS = 32
#: Largest normalised distance (see the module docstring) at which a shape counts as
#: similar to a false positive; 0.5 is a correlation of 0.875.
SIMILAR_DISTANCE = 0.5
#: Factor applied to the score of an anomaly similar to a known false positive.
FALSE_POSITIVE_DISCOUNT = 0.5
#: Decimals a shape is stored with.
SHAPE_DECIMALS = 4


def shape_of(values: NDArray[np.float64]) -> list[float]:
    """z-normalised ``values`` resampled to ``SHAPE_POINTS`` (zeros when constant).

    Parameters
    ----------
    values : ndarray of float64
        At least two finite samples, oldest first.

    Returns
    -------
    list of float
        ``SHAPE_POINTS`` values, mean 0 and standard deviation 1 unless constant.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.isfinite(x).all():
        raise ValueError(
            f"values must be at least two finite samples in a 1-D array, got shape "
            f"{x.shape}; pass the points of one subsequence"
        )
    resampled = np.interp(np.linspace(0, x.size - 1, SHAPE_POINTS), np.arange(x.size), x)
    std = float(resampled.std())
    if std <= 1e-12 * max(1.0, float(np.abs(resampled).max())):
        return [0.0] * SHAPE_POINTS
    z = (resampled - resampled.mean()) / std
    return [round(float(v), SHAPE_DECIMALS) for v in z]


def _checked(shape: Sequence[float]) -> NDArray[np.float64]:
    array = np.asarray(shape, dtype=np.float64)
    if array.shape != (SHAPE_POINTS,) or not np.isfinite(array).all():
        raise ValueError(
            f"a false-positive shape must be {SHAPE_POINTS} finite values, got shape "
            f"{array.shape}; pass params['shape'] of the annotated anomaly"
        )
    return array


class FeedbackFilter:
    """Discount anomalies similar to a channel's known false positives.

    Parameters
    ----------
    shapes : sequence of sequences of float
        Shapes (``params["shape"]``) of anomalies marked ``false_positive``.
    """

    def __init__(self, shapes: Sequence[Sequence[float]] = ()) -> None:
        self.shapes = np.array([_checked(s) for s in shapes]).reshape(-1, SHAPE_POINTS)

    def __len__(self) -> int:
        return int(self.shapes.shape[0])

    def nearest(self, shape: Sequence[float]) -> float:
        """Normalised distance to the nearest known false positive (inf without any)."""
        if not len(self):
            return math.inf
        diff = self.shapes - _checked(shape)
        return float(np.min(np.sqrt((diff * diff).sum(axis=1)))) / math.sqrt(SHAPE_POINTS)

    def factor(self, shape: Sequence[float]) -> tuple[float, float]:
        """Score factor for an anomaly of this shape and the distance it rests on."""
        distance = self.nearest(shape)
        if distance <= SIMILAR_DISTANCE:
            return FALSE_POSITIVE_DISCOUNT, distance
        return 1.0, distance
