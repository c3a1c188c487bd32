"""NAB scoring on hand-made files and against NAB's published results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.nab_reference import load_published, load_reference_files, reference_dir
from eval.nab_score import (
    PROFILES,
    corpus_score,
    file_score,
    load_profiles,
    normalise,
    optimise_threshold,
    probation_length,
    scaled_sigmoid,
    sweep_rows,
)

STANDARD = PROFILES["standard"]


def _file(n: int = 100) -> list[pd.Timestamp]:
    return list(pd.date_range("2024-01-01", periods=n, freq="5min"))


def test_scaled_sigmoid_shape() -> None:
    values = scaled_sigmoid(np.array([-1.0, 0.0, 1.0, 3.5]))
    assert values[0] == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert values[1] == pytest.approx(0.0)
    assert values[2] == pytest.approx(2 / (1 + math.exp(5)) - 1)
    assert values[3] == -1.0


@pytest.mark.parametrize(("n", "expected"), [(100, 15), (4032, 604), (22695, 750)])
def test_probation_is_15_percent_capped_at_750_rows(n: int, expected: int) -> None:
    assert probation_length(n) == expected


def test_earliest_detection_in_window_earns_full_tp_weight() -> None:
    ts = _file()
    rows = sweep_rows(ts, [(ts[40], ts[49])])
    scores = np.zeros(100)
    scores[[40, 45]] = 1.0
    assert file_score(rows, scores, 0.5, STANDARD) == pytest.approx(1.0)


def test_late_detection_earns_less_and_missed_window_costs_fn() -> None:
    ts = _file()
    rows = sweep_rows(ts, [(ts[40], ts[49])])
    late = np.zeros(100)
    late[49] = 1.0
    expected = float(scaled_sigmoid(np.array([-0.1]))[0] / scaled_sigmoid(np.array([-1.0]))[0])
    assert file_score(rows, late, 0.5, STANDARD) == pytest.approx(expected)
    assert file_score(rows, np.zeros(100), 0.5, PROFILES["reward_low_FN_rate"]) == -2.0


def test_false_positives_before_any_window_cost_full_fp_and_probation_is_free() -> None:
    ts = _file()
    rows = sweep_rows(ts, [(ts[80], ts[89])])
    scores = np.zeros(100)
    scores[[5, 30]] = 1.0  # row 5 is probationary
    assert file_score(rows, scores, 0.5, STANDARD) == pytest.approx(-1.0 - 0.11)


def test_false_positive_right_after_window_costs_little() -> None:
    ts = _file()
    rows = sweep_rows(ts, [(ts[40], ts[49])])
    scores = np.zeros(100)
    scores[50] = 1.0
    cost = file_score(rows, scores, 0.5, STANDARD) + 1.0  # remove the missed window
    assert -0.11 < cost < 0


def test_optimiser_picks_the_best_threshold() -> None:
    ts = _file()
    rows = sweep_rows(ts, [(ts[40], ts[49])])
    scores = np.zeros(100)
    scores[42] = 0.6  # inside the window
    scores[[20, 60, 70]] = 0.9  # false positives scoring higher
    threshold, raw = optimise_threshold([(rows, scores)], STANDARD)
    assert threshold == 0.6
    assert raw == pytest.approx(file_score(rows, scores, 0.6, STANDARD))
    assert raw > file_score(rows, scores, 0.9, STANDARD)


def test_normalise_maps_null_to_0_and_perfect_to_100() -> None:
    assert normalise(-10.0, 10, STANDARD) == 0.0
    assert normalise(10.0, 10, STANDARD) == 100.0


def test_profiles_file_matches_builtin_profiles(shared_data: Path) -> None:
    assert load_profiles(reference_dir(shared_data) / "profiles.json") == PROFILES


@pytest.mark.parametrize("detector", ["earthgeckoSkyline", "windowedGaussian"])
def test_reproduces_published_nab_scores(shared_data: Path, detector: str) -> None:
    final, thresholds = load_published(shared_data)
    files = [
        (sweep_rows(f.timestamps, f.windows), f.scores)
        for f in load_reference_files(shared_data, detector)
    ]
    n_windows = sum(rows.n_windows for rows, _ in files)
    assert n_windows == 116
    for name, profile in PROFILES.items():
        threshold = thresholds[detector][name]["threshold"]  # type: ignore[index]
        score = normalise(corpus_score(files, threshold, profile), n_windows, profile)
        assert score == pytest.approx(final[detector][name], abs=0.5)
        _, best_raw = optimise_threshold(files, profile)
        assert normalise(best_raw, n_windows, profile) >= score - 1e-9
