"""TCPD change-point F1 and covering on hand-made cases and on the TCPD series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval.baselines import binseg
from eval.changepoint_f1 import changepoint_score, matched_true_points
from eval.covering import cover, covering, segments
from eval.tasks import iter_eval_series


def test_each_prediction_matches_one_true_point() -> None:
    assert matched_true_points([10, 12], [11]) == {10}
    assert matched_true_points([10, 30], [14, 36]) == {10}


def test_f1_uses_union_for_precision_and_mean_recall() -> None:
    annotations = {"a": [50], "b": [50, 80]}
    score = changepoint_score(annotations, [52])
    # prediction {0, 52}: both match the union {0, 50, 80} -> P = 1
    # recall: a {0, 50} 2/2, b {0, 50, 80} 2/3 -> 5/6
    assert score.precision == pytest.approx(1.0)
    assert score.recall == pytest.approx(5 / 6)
    assert score.f1 == pytest.approx(2 * (5 / 6) / (1 + 5 / 6))


def test_no_change_annotations_reward_silence() -> None:
    assert changepoint_score({"a": [], "b": []}, []).f1 == 1.0
    assert changepoint_score({"a": []}, [40]).precision == 0.5


def test_segments_and_cover() -> None:
    assert segments([5, 0, 12], 20) == [(0, 5), (5, 12), (12, 20)]
    assert cover([10], [10], 20) == 1.0
    assert cover([], [10], 20) == pytest.approx(0.5)
    assert covering({"a": [10], "b": []}, [10], 20) == pytest.approx((1.0 + 0.5) / 2)


@pytest.fixture(scope="module")
def tcpd_univariate(shared_data: Path) -> list:
    return [s for s in iter_eval_series(shared_data, ("tcpd",)) if s.univariate]


def test_never_firing_matches_calibration_anchor(tcpd_univariate: list) -> None:
    f1 = np.mean([changepoint_score(s.annotations, []).f1 for s in tcpd_univariate])
    cov = np.mean([covering(s.annotations, [], s.n) for s in tcpd_univariate])
    assert len(tcpd_univariate) == 31
    assert (f1, cov) == pytest.approx((0.663, 0.567), abs=0.002)


def test_binseg_baseline_matches_calibration_anchor(tcpd_univariate: list) -> None:
    outputs = [(s, binseg(s).change_points) for s in tcpd_univariate]
    f1 = np.mean([changepoint_score(s.annotations, cps).f1 for s, cps in outputs])
    cov = np.mean([covering(s.annotations, cps, s.n) for s, cps in outputs])
    assert (f1, cov) == pytest.approx((0.718, 0.675), abs=0.005)
