"""The reference detector: distances against a brute-force reference, flags, retirement."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from detection import ChannelDetector, DetectedAnomaly, detect_series
from detection.events import PEAK_START
from detection.merge import EventMerger
from detection.reference import ReferenceProfile, is_discrete
from detection.reference_views import TailScale
from eval.project import run_project
from eval.tasks import EvalSeries

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


@pytest.mark.parametrize("m", [4, 20])  # direct dot products, then through the FFT
@pytest.mark.parametrize("normalize", [True, False])
def test_distance_equals_brute_force_nearest_neighbour(normalize: bool, m: int) -> None:
    rng = np.random.default_rng(2)
    reference = np.cumsum(rng.normal(size=300))
    reference[100:130] = 4.0  # a constant stretch
    profile = ReferenceProfile(reference, m, normalize)

    for query in (rng.normal(size=m), reference[40 : 40 + m] + 0.01, np.full(m, 3.0)):
        assert profile.distance(query) == pytest.approx(
            _brute(query, reference, normalize), abs=1e-6
        )
        plain, normalised = profile.distances(query)
        assert plain == pytest.approx(_brute(query, reference, False), abs=1e-6)
        assert normalised == pytest.approx(_brute(query, reference, True), abs=1e-6)


def test_tail_score_is_minus_log_of_the_exceedance_probability() -> None:
    joined = np.random.default_rng(3).exponential(2.0, 200_000)
    tail = TailScale.fit(joined, share=0.01, floor=0.1)

    # an exponential tail: above its 99 % quantile the mean excess is its scale
    assert tail.start == pytest.approx(2.0 * math.log(100), rel=0.02)
    assert tail.scale == pytest.approx(2.0, rel=0.05)
    assert tail.score(tail.start) == pytest.approx(math.log(100))
    beyond = tail.start + 3 * tail.scale
    share_beyond = float(np.mean(joined > beyond))
    assert tail.score(beyond) == pytest.approx(-math.log(share_beyond), abs=0.2)
    assert TailScale.fit(np.ones(500), share=0.01, floor=0.5).scale == 0.5


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


def _spiky_channel(n: int, spike_at: int | None) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n)
    rng = np.random.default_rng(11)
    values = np.sin(2 * np.pi * t / 50) + rng.normal(0, 0.05, n)
    if spike_at is not None:
        values[spike_at] -= 1.5  # one point, not beyond the channel's normal range
    return (t * STEP_NS).astype(np.int64), values


def test_one_point_glitch_is_located_by_the_short_view() -> None:
    ref_ts, reference = _spiky_channel(1500, None)
    ts, values = _spiky_channel(1500, 1000)
    ts = ts + ref_ts[-1] + STEP_NS

    found = detect_series(ts, values, history=(ref_ts, reference), reference=reference)

    top = max(found, key=lambda a: a.score)
    assert top.detector == "reference" and top.params["peak_view"] == "plain4"
    peak = pd.Timestamp(top.params[PEAK_START]).value
    # the flagged 100-point subsequence starts earlier; its 4-point peak covers the glitch
    assert ts[1000 - 3] <= peak <= ts[1000]
    assert top.start.value < ts[1000 - 3]


def test_top1_of_the_project_is_the_peak_of_the_best_event() -> None:
    ref_ts, reference = _spiky_channel(1500, None)
    ts, values = _spiky_channel(1500, 1000)
    series = EvalSeries(
        "ucr", "hand-made", ts + ref_ts[-1] + STEP_NS, values, [(1000, 1000)], ref_ts, reference
    )

    out = run_project(series)

    assert out.top1 is not None and 1000 - 3 <= out.top1 <= 1000
    best = max(out.events, key=lambda e: e.score)
    assert best.start < out.top1


def _anomaly(detector: str, start: int, end: int, score: float, peak: int) -> DetectedAnomaly:
    stamp = pd.Timestamp(peak * STEP_NS, unit="ns", tz="UTC")
    return DetectedAnomaly(
        detector=detector,
        kind="pattern",
        start=pd.Timestamp(start * STEP_NS, unit="ns", tz="UTC"),
        end=pd.Timestamp(end * STEP_NS, unit="ns", tz="UTC"),
        score=score,
        severity="low",
        params={PEAK_START: stamp.isoformat()},
    )


@pytest.mark.parametrize("member_score, peak", [(9.0, 130), (2.0, 110)])
def test_merged_anomaly_keeps_the_peak_of_its_highest_scoring_event(
    member_score: float, peak: int
) -> None:
    merger = EventMerger()
    merger.add(_anomaly("reference", 100, 200, 5.0, 110), 0, 0)
    merger.add(_anomaly("flatline", 120, 180, member_score, 130), 0, 0)

    (merged,) = merger.drain()

    assert merged.detector == "reference" and merged.score == max(5.0, member_score)
    assert pd.Timestamp(merged.params[PEAK_START]).value == peak * STEP_NS
