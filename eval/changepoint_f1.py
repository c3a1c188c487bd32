"""Change-point F1 against several annotators, as the Turing Change Point Benchmark does.

van den Burg & Williams, "An Evaluation of Change Point Detection Algorithms", 2020:
position 0 is added to every annotation and to the prediction (the series start is a
trivial change point); a true change point is found when a prediction lies within
``margin`` points, each prediction matching at most one true point. Precision is taken
against the union of all annotators' points, recall is averaged over annotators, and
F1 combines the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Distance (points) within which a prediction matches a true change point.
CP_MARGIN = 5


@dataclass(frozen=True)
class ChangePointScore:
    """Precision, recall and F1 of one series."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def matched_true_points(
    true: Iterable[int], predicted: Iterable[int], margin: int = CP_MARGIN
) -> set[int]:
    """True change points matched by a distinct prediction within ``margin`` (closest first)."""
    available = set(int(x) for x in predicted)
    matched = set()
    for tau in sorted(set(int(t) for t in true)):
        close = sorted((abs(tau - x), x) for x in available if abs(tau - x) <= margin)
        if close:
            matched.add(tau)
            available.remove(close[0][1])
    return matched


def changepoint_score(
    annotations: Mapping[str, Iterable[int]], predicted: Iterable[int], margin: int = CP_MARGIN
) -> ChangePointScore:
    """TCPD precision/recall of predicted change points against every annotator.

    Parameters
    ----------
    annotations : mapping of annotator id to change-point positions
        0-based row positions; an empty list means "no change".
    predicted : iterable of int
        Predicted change-point positions (row where the new segment starts).
    margin : int
        Matching distance, points.
    """
    if not annotations:
        raise ValueError("annotations is empty; pass at least one annotator (possibly [])")
    per_annotator = [set(int(x) for x in points) | {0} for points in annotations.values()]
    prediction = set(int(x) for x in predicted) | {0}
    union = set().union(*per_annotator)
    precision = len(matched_true_points(union, prediction, margin)) / len(prediction)
    recall = sum(
        len(matched_true_points(points, prediction, margin)) / len(points)
        for points in per_annotator
    ) / len(per_annotator)
    return ChangePointScore(precision, recall)
