"""Change-point search against ruptures, gaps on irregular channels, merging, seasonal spikes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import ruptures as rpt

from detection import ChannelDetector, detect_series
from detection.changepoint import find_breakpoints
from detection.limits import seasonal_residuals

STEP_NS = 60 * 10**9


def reference_binseg(values: np.ndarray, min_size: int, jump: int, pen: float) -> list[int]:
    """ruptures' own binary segmentation with the Gaussian cost (slow, obviously right)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        algo = rpt.Binseg(model="normal", min_size=min_size, jump=jump).fit(values)
        return [int(b) for b in algo.predict(pen=pen)[:-1]]


@pytest.mark.parametrize("seed", range(8))
def test_breakpoints_equal_ruptures_binseg_normal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=500)
    values[rng.integers(100, 250) :] += rng.uniform(0, 3)
    values[rng.integers(300, 450) :] *= rng.uniform(0.5, 3)
    # find_breakpoints works in noise units; feed the reference the same scaled data
    got = find_breakpoints(values, 30, 5, 4.0)
    sigma = 1.4826 * np.median(np.abs(np.diff(values) - np.median(np.diff(values)))) / math.sqrt(2)
    scaled = (values - np.median(values)) / sigma

    assert got == reference_binseg(scaled, 30, 5, 4.0 * math.log(values.size))


def test_long_deltas_on_an_irregularly_sampled_channel_are_not_gaps() -> None:
    rng = np.random.default_rng(4)
    deltas = rng.choice([1, 1, 2, 5, 8, 13], size=3000)  # routine long deltas
    ts = np.cumsum(deltas).astype(np.int64) * STEP_NS
    values = rng.normal(size=ts.size)

    found = detect_series(ts, values, detectors=["gap"])

    assert found == []


def _level_shift() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(3000)
    values = np.sin(2 * np.pi * t / 50) + np.random.default_rng(7).normal(0, 0.1, t.size)
    values[2000:] += 2.0
    return (t * STEP_NS).astype(np.int64), values


def test_a_level_shift_seen_by_several_detectors_is_reported_once() -> None:
    ts, values = _level_shift()

    found = detect_series(ts, values)

    near = [a for a in found if abs(a.start.value - ts[2000]) <= 50 * STEP_NS]
    assert len(near) == 1, [(a.detector, a.kind, a.start) for a in found]
    assert near[0].kind == "level_shift"
    assert len(near[0].params.get("detectors", [near[0].detector])) >= 1


def test_merged_events_keep_identity_and_streaming_equals_batch() -> None:
    ts, values = _level_shift()
    detector = ChannelDetector()
    latest = {}

    for lo in range(0, ts.size, 53):
        for a in detector.update(ts[lo : lo + 53], values[lo : lo + 53]):
            key = (a.detector, a.start)
            if key in latest:
                assert a.end >= latest[key].end
            latest[key] = a
    for a in detector.flush():
        latest[(a.detector, a.start)] = a

    batch = detect_series(ts, values)
    assert sorted((a.detector, a.kind, a.start, a.end) for a in latest.values()) == sorted(
        (a.detector, a.kind, a.start, a.end) for a in batch
    )


def test_spike_inside_the_normal_range_of_a_periodic_channel_is_found() -> None:
    t = np.arange(3000)
    # eclipse-like cycles between 0 and 1; the spike at a trough stays within [0, 1]
    values = (
        0.5 + 0.5 * np.sin(2 * np.pi * t / 90) + np.random.default_rng(9).normal(0, 0.01, t.size)
    )
    trough = 2000 + int(np.argmin(values[2000:2090]))
    values[trough] += 0.6
    ts = (t * STEP_NS).astype(np.int64)

    found = detect_series(ts, values, detectors=["limits"])

    assert [a.start.value for a in found] == [ts[trough]]
    assert found[0].kind == "spike"


def test_seasonal_residuals_of_a_pure_cycle_are_zero() -> None:
    values = np.tile(np.arange(10.0), 8)

    res = seasonal_residuals(values, 10)

    assert res.size == values.size - 30
    np.testing.assert_allclose(res, 0.0)
