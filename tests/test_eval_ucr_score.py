"""UCR top-1 accuracy on hand-made cases."""

from __future__ import annotations

import pytest

from eval.ucr_score import ucr_top1_correct


@pytest.mark.parametrize(
    ("location", "expected"),
    [(1000, True), (900, True), (899, False), (1110, True), (1111, False), (None, False)],
)
def test_label_is_widened_by_100_points(location: int | None, expected: bool) -> None:
    assert ucr_top1_correct(location, 1000, 1010) is expected


def test_reversed_label_is_rejected() -> None:
    with pytest.raises(ValueError, match="start <= end"):
        ucr_top1_correct(5, 10, 1)
