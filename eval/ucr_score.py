"""UCR anomaly archive top-1 accuracy (Wu & Keogh, "Current Time Series Anomaly Detection
Benchmarks are Flawed and are Creating the Illusion of Progress", TKDE 2021).

A series is solved when the single highest-scoring location lies inside its one
labelled region widened by ``slack`` points on each side.
"""

from __future__ import annotations

#: Points the labelled region is widened by on each side, as the archive's rules say.
UCR_SLACK = 100


def ucr_top1_correct(location: int | None, start: int, end: int, slack: int = UCR_SLACK) -> bool:
    """Whether a top-1 location (row index; None = no answer) solves the series.

    Parameters
    ----------
    location : int or None
        Row index of the highest-scoring point; None when the method flagged nothing.
    start, end : int
        Inclusive row indices of the labelled anomaly.
    slack : int
        Widening on each side, points.
    """
    if end < start or slack < 0:
        raise ValueError(f"need start <= end and slack >= 0, got {start}, {end}, {slack}")
    return location is not None and start - slack <= location <= end + slack
