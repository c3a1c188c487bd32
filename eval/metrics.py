"""Event-wise scoring of detected anomalies against labelled windows.

No point adjustment: a labelled window counts once, found or missed; a detection that
overlaps no labelled window (widened by a tolerance) is one false positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

Window = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class EventScore:
    """Event-wise counts and the ratios derived from them."""

    true_windows: int
    found_windows: int
    detections: int
    false_detections: int

    @property
    def recall(self) -> float:
        return self.found_windows / self.true_windows if self.true_windows else 1.0

    @property
    def precision(self) -> float:
        if not self.detections:
            return 1.0 if not self.true_windows else 0.0
        return (self.detections - self.false_detections) / self.detections

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def overlaps(a: Window, b: Window) -> bool:
    """Whether two closed intervals share at least one instant."""
    return a[0] <= b[1] and b[0] <= a[1]


def event_score(
    labelled: Sequence[Window],
    detected: Sequence[Window],
    tolerance: pd.Timedelta = pd.Timedelta(0),
) -> EventScore:
    """Score `detected` windows against `labelled` ones, each label widened by `tolerance`."""
    widened = [(start - tolerance, end + tolerance) for start, end in labelled]
    found = sum(1 for window in widened if any(overlaps(window, d) for d in detected))
    false = sum(1 for d in detected if not any(overlaps(window, d) for window in widened))
    return EventScore(len(labelled), found, len(detected), false)
