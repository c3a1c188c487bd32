"""Adaptive limits: a quiet channel's new record is flagged below the spike threshold."""

from __future__ import annotations

import numpy as np

from detection import ChannelDetector, DetectorConfig
from tests.stream_helpers import final_anomalies

CADENCE_NS = 60_000_000_000
N = 2600
AT = 2400


def _series(history: np.ndarray, jump: float) -> tuple[np.ndarray, np.ndarray]:
    values = history.copy()
    values[AT] += jump
    stamps = np.arange(values.size, dtype=np.int64) * CADENCE_NS + 1_650_000_000 * 10**9
    return stamps, values


def _limits_at(anomalies: list, stamps: np.ndarray) -> list:
    return [a for a in anomalies if a.detector == "limits" and a.start.value == int(stamps[AT])]


def test_a_record_of_a_quiet_channel_is_flagged_below_the_spike_threshold() -> None:
    rng = np.random.default_rng(11)
    quiet = rng.normal(0.0, 1.0, N)
    config = DetectorConfig()
    largest = float(np.max(np.abs(quiet[AT - config.window : AT])))
    jump = 1.3 * largest + 0.5  # beyond every deviation of the window, z about 6-7
    assert jump < config.spike_threshold
    stamps, values = _series(quiet, jump)
    flagged = _limits_at(final_anomalies(ChannelDetector(config), stamps, values), stamps)
    assert flagged, "the new record should be flagged"
    assert flagged[0].score >= config.record_z


def test_the_same_value_on_a_channel_with_bigger_excursions_is_not_flagged() -> None:
    rng = np.random.default_rng(11)
    bursty = rng.normal(0.0, 1.0, N)
    bursty[np.arange(600, AT - 50, 180)] += 9.0  # routine excursions larger than the jump
    config = DetectorConfig()
    quiet_largest = float(np.max(np.abs(rng.normal(0.0, 1.0, config.window))))
    stamps, values = _series(bursty, 1.3 * quiet_largest + 0.5)
    assert not _limits_at(final_anomalies(ChannelDetector(config), stamps, values), stamps)


def test_no_record_before_the_window_is_full() -> None:
    rng = np.random.default_rng(5)
    quiet = rng.normal(0.0, 1.0, N)
    config = DetectorConfig(window=3000, warmup=400)
    stamps, values = _series(quiet, 7.0)
    assert not _limits_at(final_anomalies(ChannelDetector(config), stamps, values), stamps)
