"""Short-series change points: the early search before (and shortly after) the warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from detection import ChannelDetector, DetectedAnomaly, DetectorConfig, detect_series
from detection.early import explained_by_trend

STEP_NS = 60 * 10**9
MARGIN = 5


def _ts(n: int) -> np.ndarray:
    return (np.arange(n) * STEP_NS).astype(np.int64)


def _rows(found: list[DetectedAnomaly]) -> list[int]:
    return [int(a.start.value // STEP_NS) for a in found]


@pytest.mark.parametrize("seed", range(5))
def test_level_shift_at_40_of_80_points_is_found_within_the_margin(seed: int) -> None:
    values = np.random.default_rng(seed).normal(0.0, 1.0, 80)
    values[40:] += 4.0

    found = detect_series(_ts(80), values)

    rows = _rows(found)
    assert len(rows) == 1, rows
    assert abs(rows[0] - 40) <= MARGIN
    assert found[0].kind == "level_shift"
    assert found[0].detector == "changepoint"
    assert found[0].params["mode"] == "early"


@pytest.mark.parametrize("seed", range(10))
def test_pure_noise_of_80_points_gives_no_anomaly(seed: int) -> None:
    values = np.random.default_rng(100 + seed).normal(5.0, 2.0, 80)

    assert detect_series(_ts(80), values) == []


def test_a_steady_trend_is_not_cut_into_steps() -> None:
    rng = np.random.default_rng(3)
    values = np.linspace(0.0, 50.0, 300) + rng.normal(0.0, 0.5, 300)

    assert detect_series(_ts(300), values) == []
    assert explained_by_trend(values[:150], values[150:])


def test_a_change_is_reported_only_after_enough_later_points() -> None:
    values = np.random.default_rng(7).normal(0.0, 1.0, 120)
    values[60:] += 5.0
    detector = ChannelDetector()
    reported_at = None
    for i in range(values.size):
        if detector.update(_ts(120)[i : i + 1], values[i : i + 1]):
            reported_at = i
            break

    cfg = DetectorConfig()
    assert reported_at is not None
    # no look-ahead: confirmed only once min_size points follow and the search kept it
    assert reported_at >= 60 + cfg.cp_early_min_size - 1
    assert reported_at <= 60 + cfg.cp_early_persist + 20


def test_point_by_point_stream_equals_batch_on_a_short_series() -> None:
    rng = np.random.default_rng(9)
    values = rng.normal(0.0, 1.0, 200)
    values[70:] += 3.0
    values[140:] *= 3.0
    detector = ChannelDetector()
    streamed = {}
    for i in range(values.size):
        for a in detector.update(_ts(200)[i : i + 1], values[i : i + 1]):
            streamed[(a.detector, a.start)] = a
    for a in detector.flush():
        streamed[(a.detector, a.start)] = a

    batch = {(a.detector, a.start): a for a in detect_series(_ts(200), values)}

    assert streamed == batch
    assert len(batch) >= 1


def test_flush_reports_a_change_too_late_to_be_confirmed_while_streaming() -> None:
    values = np.random.default_rng(4).normal(0.0, 1.0, 40)
    values[30:] += 6.0
    detector = ChannelDetector()

    streamed = detector.update(_ts(40), values)
    flushed = detector.flush()

    # ten points after the change are too few for cp_early_persist while streaming;
    # at the end of the data the last search reports it
    assert streamed == []
    assert len(flushed) == 1
    assert abs(_rows(flushed)[0] - 30) <= 1
    assert flushed[0].params["mode"] == "early"
    assert detector.flush() == []  # reported once


def test_flush_reports_nothing_on_a_trend_or_on_noise() -> None:
    rng = np.random.default_rng(5)
    trend = np.linspace(0.0, 20.0, 50) + rng.normal(0.0, 0.3, 50)
    noise = rng.normal(0.0, 1.0, 50)

    assert detect_series(_ts(50), trend) == []
    assert detect_series(_ts(50), noise) == []


def test_a_change_after_the_warmup_is_placed_by_the_whole_history_search() -> None:
    values = np.random.default_rng(6).normal(0.0, 1.0, 900)
    values[703:] += 3.0

    found = [a for a in detect_series(_ts(900), values) if a.detector == "changepoint"]

    assert DetectorConfig().cp_early_until > 900
    assert [a.params["mode"] for a in found] == ["early"]
    assert abs(_rows(found)[0] - 703) <= 1


def test_after_the_warmup_a_level_seen_before_is_no_early_change() -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(0.0, 1.0, 900)
    for start in range(150, 900, 300):
        values[start : start + 150] += 6.0  # levels 0 and 6 alternate every 150 points

    found = [a for a in detect_series(_ts(900), values) if a.detector == "changepoint"]

    rows = _rows(found)
    warmup = DetectorConfig().warmup
    # the first switches are novel; the later ones return to levels already seen
    assert any(abs(r - 150) <= 1 for r in rows), rows
    assert all(r < warmup for r in rows), rows


def test_without_the_changepoint_detector_there_is_no_early_search() -> None:
    values = np.random.default_rng(1).normal(0.0, 1.0, 80)
    values[40:] += 6.0

    assert detect_series(_ts(80), values, detectors=["limits"]) == []


def test_warm_reports_no_early_change() -> None:
    values = np.random.default_rng(2).normal(0.0, 1.0, 100)
    values[50:] += 6.0
    detector = ChannelDetector()

    detector.warm(_ts(100), values)

    assert detector.flush() == []


@pytest.mark.parametrize(
    "name", ["cp_early_min", "cp_early_every", "cp_early_min_size", "cp_early_until"]
)
def test_early_settings_reject_non_positive_values(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        DetectorConfig(**{name: 0})  # type: ignore[arg-type]
