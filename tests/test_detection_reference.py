"""The reference detector: distances against a brute-force reference, flags, retirement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection import ChannelDetector, detect_series
from detection.reference import ReferenceProfile, is_discrete

STEP_NS = 60 * 10**9


def _brute(query: np.ndarray, reference: np.ndarray, normalize: bool) -> float:
    """Nearest-neighbour distance by looping over every reference subsequence."""
    m = query.size
    best = math.inf
    for i in range(reference.size - m + 1):
        window = reference[i : i + m]
        if not normalize:
            best = min(best, float(np.linalg.norm(query - window)))
            continue
        q_flat, w_flat = np.ptp(query) == 0, np.ptp(window) == 0
        if q_flat or w_flat:
            best = min(best, 0.0 if q_flat and w_flat else math.sqrt(m))
            continue
        qz = (query - query.mean()) / query.std()
        wz = (window - window.mean()) / window.std()
        best = min(best, float(np.linalg.norm(qz - wz)))
    return best


@pytest.mark.parametrize("normalize", [True, False])
def test_distance_equals_brute_force_nearest_neighbour(normalize: bool) -> None:
    rng = np.random.default_rng(2)
    reference = np.cumsum(rng.normal(size=300))
    reference[100:130] = 4.0  # a constant stretch
    profile = ReferenceProfile(reference, 20, normalize)

    for query in (rng.normal(size=20), reference[40:60] + 0.01, np.full(20, 3.0)):
        assert profile.distance(query) == pytest.approx(
            _brute(query, reference, normalize), abs=1e-6
        )


def test_discrete_channels_are_recognised() -> None:
    assert is_discrete(np.tile([0.0, 1.0, 1.0, -1.0], 100))
    assert not is_discrete(np.random.default_rng(0).normal(size=400))


def _channel(n: int, at: int | None) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n)
    values = np.sin(2 * np.pi * t / 50) + np.random.default_rng(4).normal(0, 0.05, n)
    if at is not None:
        # one period played at double frequency: inside the normal range of values
        values[at : at + 50] = np.sin(4 * np.pi * t[at : at + 50] / 50)
    return (t * STEP_NS).astype(np.int64), values


def test_new_shape_is_flagged_against_the_reference_and_window_detectors_retire() -> None:
    ref_ts, reference = _channel(1500, None)
    ts, values = _channel(3000, 2000)
    ts = ts + ref_ts[-1] + STEP_NS

    found = detect_series(ts, values, history=(ref_ts, reference), reference=reference)

    assert {a.detector for a in found} <= {"reference", "gap", "flatline"}
    hits = [a for a in found if a.start.value <= ts[2050] and a.end.value >= ts[2000]]
    assert hits and all(a.detector == "reference" for a in hits)
    assert len(found) == len(hits), f"false alarms: {found}"


def test_a_short_reference_is_not_used_and_the_window_detectors_stay() -> None:
    ts, values = _channel(3000, 2000)
    detector = ChannelDetector()
    detector.set_reference(values[:100])

    found = detector.update(ts, values) + detector.flush()

    assert found and all(a.detector != "reference" for a in found)
    assert any(d.name == "limits" for d in detector.detectors)


def test_reference_after_scoring_began_is_refused() -> None:
    ts, values = _channel(600, None)
    detector = ChannelDetector()
    detector.update(ts, values)

    with pytest.raises(ValueError, match="before the first update"):
        detector.set_reference(values)
    with pytest.raises(ValueError, match="1-D array"):
        ChannelDetector().set_reference(np.zeros((3, 3)))


def test_channel_constant_in_its_reference_raises_no_flatline() -> None:
    reference = np.full(1000, 2.0)
    values = np.full(1500, 2.0)
    values[:900] += np.random.default_rng(9).normal(0, 0.1, 900)
    ts = (np.arange(1500) * STEP_NS).astype(np.int64)

    found = detect_series(ts, values, reference=reference)
    without = detect_series(ts, values)

    assert not [a for a in found if a.kind == "flatline"]
    assert [a for a in without if a.kind == "flatline"], "the check needs a flatline to remove"
