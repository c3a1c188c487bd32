"""Range-aware precision on hand-made cases."""

from __future__ import annotations

import math

import pytest

from eval.range_precision import RangePrecision, range_precision


@pytest.mark.parametrize(
    ("labelled", "detected", "tolerance", "expected"),
    [
        ([(10, 19)], [(10, 19)], 0, 1.0),
        ([(10, 19)], [(15, 24)], 0, 0.5),
        ([(10, 19)], [(15, 24)], 5, 1.0),
        ([(10, 19)], [(50, 59)], 0, 0.0),
        ([(10, 19)], [(10, 14), (12, 16)], 0, 1.0),
        ([], [(0, 3)], 0, 0.0),
    ],
)
def test_precision_counts_flagged_points(labelled, detected, tolerance, expected) -> None:
    assert range_precision(100, labelled, detected, tolerance).precision == pytest.approx(expected)


def test_long_false_alarm_weighs_more_than_short_hit() -> None:
    result = range_precision(100, [(10, 10)], [(10, 10), (40, 79)])
    assert result == RangePrecision(41, 1)


def test_nothing_flagged_is_undefined_and_sums_add() -> None:
    empty = range_precision(100, [(10, 19)], [])
    assert math.isnan(empty.precision)
    assert (empty + RangePrecision(4, 1)).precision == 0.25
