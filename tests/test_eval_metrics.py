"""Event-wise scoring on hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest

from eval.metrics import event_score


def _w(a: int, b: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    base = pd.Timestamp("2024-01-01T00:00:00Z")
    return base + pd.Timedelta(minutes=a), base + pd.Timedelta(minutes=b)


@pytest.mark.parametrize(
    ("labelled", "detected", "expected"),
    [
        ([_w(10, 20)], [_w(15, 16)], (1.0, 1.0)),
        ([_w(10, 20)], [_w(30, 31)], (0.0, 0.0)),
        ([_w(10, 20), _w(50, 60)], [_w(12, 13), _w(14, 15), _w(80, 81)], (0.5, 2 / 3)),
        ([], [_w(1, 2)], (1.0, 0.0)),
        ([_w(10, 20)], [], (0.0, 0.0)),
    ],
)
def test_event_score_counts_each_window_once(labelled, detected, expected) -> None:
    score = event_score(labelled, detected)
    assert (score.recall, score.precision) == pytest.approx(expected)


def test_tolerance_widens_labelled_windows() -> None:
    strict = event_score([_w(10, 20)], [_w(22, 23)])
    tolerant = event_score([_w(10, 20)], [_w(22, 23)], tolerance=pd.Timedelta(minutes=3))
    assert strict.recall == 0.0 and tolerant.recall == 1.0
