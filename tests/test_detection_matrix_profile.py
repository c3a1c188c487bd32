"""The left matrix profile against a slow, obviously correct reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection import dominant_period, left_matrix_profile
from detection.matrix_profile import MatrixProfileScorer, exclusion_zone


def reference_left_mp(values: np.ndarray, m: int, window: int | None) -> np.ndarray:
    """Brute force: z-normalised Euclidean distance to every allowed earlier subsequence.

    Conventions as in stumpy: both constant -> 0, one constant -> sqrt(m), non-finite ->
    no distance; candidates j < i - ceil(m / 4), inside the window ending at i + m - 1.
    """
    n_sub = values.size - m + 1
    excl = math.ceil(m / 4)
    out = np.full(n_sub, np.inf)
    for i in range(n_sub):
        q = values[i : i + m]
        if not np.all(np.isfinite(q)):
            continue
        lo = 0 if window is None else max(0, i + m - window)
        for j in range(lo, i - excl):
            c = values[j : j + m]
            if not np.all(np.isfinite(c)):
                continue
            q_const, c_const = np.ptp(q) == 0, np.ptp(c) == 0
            if q_const and c_const:
                d = 0.0
            elif q_const or c_const:
                d = math.sqrt(m)
            else:
                zq = (q - q.mean()) / q.std()
                zc = (c - c.mean()) / c.std()
                d = float(np.sqrt(np.sum((zq - zc) ** 2)))
            out[i] = min(out[i], d)
    return out


def _series(seed: int, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n)
    if kind == "constant_stretch":
        values[20:45] = 1.5
    if kind == "nan":
        values[30] = np.nan
        values[50] = np.inf
    return values


@pytest.mark.parametrize("kind", ["random", "constant_stretch", "nan"])
@pytest.mark.parametrize(("n", "m", "window"), [(60, 4, None), (80, 7, 40), (90, 10, 35)])
def test_left_matrix_profile_matches_brute_force(
    kind: str, n: int, m: int, window: int | None
) -> None:
    values = _series(n + m, n, kind)

    got = left_matrix_profile(values, m, window)
    want = reference_left_mp(values, m, window)

    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("m", "window", "start"), [(8, 60, 40), (5, 50, 50), (12, 200, 60)])
def test_streaming_left_mp_equals_batch_left_mp_over_the_same_window(
    m: int, window: int, start: int
) -> None:
    values = np.random.default_rng(m).normal(size=160)
    scorer = MatrixProfileScorer(values[:start], m, window, 100, 0.02)

    streamed = [scorer.update(float(v))[0] for v in values[start:]]

    batch = left_matrix_profile(values, m, window)
    # the subsequence ending at point k starts at k - m + 1
    expected = batch[start - m + 1 :]
    np.testing.assert_allclose(streamed, expected, rtol=1e-6, atol=1e-6)


def test_streaming_scores_rise_on_a_discord() -> None:
    t = np.arange(600)
    values = np.sin(2 * np.pi * t / 30) + np.random.default_rng(0).normal(0, 0.05, t.size)
    values[500] += 3.0
    scorer = MatrixProfileScorer(values[:300], 30, 400, 200, 0.02)

    z = np.array([scorer.update(float(v))[1] for v in values[300:]])

    assert np.nanargmax(z) + 300 in range(500, 530)
    assert np.nanmax(z) > 8
    assert np.nanmax(z[:190]) < 8


@pytest.mark.parametrize("period", [12, 40, 100])
def test_dominant_period_finds_the_period_of_a_noisy_sine(period: int) -> None:
    t = np.arange(1000)
    values = np.sin(2 * np.pi * t / period) + np.random.default_rng(1).normal(0, 0.2, t.size)

    assert dominant_period(values, max_lag=256) == pytest.approx(period, abs=1)


def test_dominant_period_of_white_noise_is_none() -> None:
    values = np.random.default_rng(2).normal(size=1000)

    assert dominant_period(values, max_lag=256) is None


def test_exclusion_zone_is_stumpys() -> None:
    assert [exclusion_zone(m) for m in (4, 5, 8, 9)] == [1, 2, 2, 3]


@pytest.mark.parametrize(
    ("values", "m", "window", "message"),
    [
        (np.zeros((5, 2)), 3, None, "1-D"),
        (np.zeros(10), 2, None, "m must be an int >= 3"),
        (np.zeros(4), 5, None, "fewer than m=5"),
        (np.zeros(40), 8, 4, "window=4 is shorter than m=8"),
    ],
)
def test_left_matrix_profile_rejects_bad_arguments(
    values: np.ndarray, m: int, window: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        left_matrix_profile(values, m, window)
