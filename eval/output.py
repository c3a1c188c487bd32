"""What one method produces on one series, in the form every metric reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Event:
    """One detection: inclusive rows of the scored points and a score (method units)."""

    start: int
    end: int
    score: float


@dataclass
class MethodOutput:
    """A method's answer on one series.

    Attributes
    ----------
    events : list of Event
        Detected windows (change points are one-row events).
    point_scores : ndarray of float64
        Per-row anomaly score in ``[0, 1]`` placed at the row where the method knew it
        (for the NAB score and its threshold sweep); zeros where nothing was flagged.
    top1 : int or None
        Row of the single most anomalous location; None when the method ranks nothing.
    change_points : list of int
        Rows where a new segment starts.
    seconds : float
        Wall-clock time of the method on this series.
    online : bool
        Whether the method only looked at past points (False for batch baselines).
    """

    events: list[Event]
    point_scores: NDArray[np.float64]
    top1: int | None = None
    change_points: list[int] = field(default_factory=list)
    seconds: float = 0.0
    online: bool = True


def squash(score: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Map a non-negative score to ``[0, 1)`` monotonically: ``s / (1 + s)``."""
    s = np.maximum(np.asarray(score, dtype=float), 0.0)
    return np.asarray(s / (1.0 + s))


def merge_flags(flags: NDArray[np.bool_], scores: NDArray[np.float64], gap: int) -> list[Event]:
    """Merge flagged rows at most ``gap`` rows apart into events scored by their peak."""
    rows = np.flatnonzero(flags)
    if not rows.size:
        return []
    breaks = np.flatnonzero(np.diff(rows) > gap + 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [rows.size - 1]])
    return [
        Event(int(rows[a]), int(rows[b]), float(np.max(scores[rows[a] : rows[b] + 1])))
        for a, b in zip(starts, ends, strict=True)
    ]
