"""Segmentation covering against several annotators (Arbelaez et al., TPAMI 2011), as the
Turing Change Point Benchmark uses it: the mean over annotators of how well the
predicted segmentation covers the annotator's segmentation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def segments(change_points: Iterable[int], n: int) -> list[tuple[int, int]]:
    """Half-open segments ``[a, b)`` of ``range(n)`` cut at the given positions."""
    cuts = sorted({int(c) for c in change_points if 0 < int(c) < n})
    bounds = [0, *cuts, n]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _jaccard(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else 0.0


def cover(predicted: Iterable[int], true: Iterable[int], n: int) -> float:
    """Covering of the true segmentation by the predicted one, in ``[0, 1]``.

    Parameters
    ----------
    predicted, true : iterable of int
        Change-point positions (row where a new segment starts).
    n : int
        Series length, points.

    Returns
    -------
    float
        ``sum over true segments R of |R| * max_R' Jaccard(R, R') / n``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    mine = segments(predicted, n)
    total = 0.0
    for segment in segments(true, n):
        total += (segment[1] - segment[0]) * max(_jaccard(segment, other) for other in mine)
    return total / n


def covering(annotations: Mapping[str, Iterable[int]], predicted: Iterable[int], n: int) -> float:
    """Covering averaged over annotators (TCPD's cover metric)."""
    if not annotations:
        raise ValueError("annotations is empty; pass at least one annotator (possibly [])")
    prediction = list(predicted)
    scores = [cover(prediction, points, n) for points in annotations.values()]
    return sum(scores) / len(scores)
