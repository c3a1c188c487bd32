"""A period longer than half the warm-up is learned once the window is full.

A daily cycle sampled every five minutes (288 points) does not show in the 400
warm-up points; the detectors look for it again over the full window, and the matrix
profile then scores each subsequence against the same phase of earlier days, so a
day without its usual jump is flagged and ordinary days are not.
"""

from __future__ import annotations

import numpy as np

from detection import ChannelDetector, DetectorConfig
from detection.limits import LimitsDetector
from detection.matrix_profile import MatrixProfileDetector
from tests.stream_helpers import final_anomalies

PERIOD = 288
CADENCE_NS = 300 * 10**9


def _daily(days: int, skip_jump_on: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    n = days * PERIOD
    phase = np.arange(n) % PERIOD
    values = 20.0 + 60.0 * ((phase >= 100) & (phase < 160)) + rng.normal(0.0, 0.5, n)
    if skip_jump_on is not None:
        day = slice(skip_jump_on * PERIOD + 100, skip_jump_on * PERIOD + 160)
        values[day] = 20.0 + rng.normal(0.0, 0.5, 60)
    stamps = np.arange(n, dtype=np.int64) * CADENCE_NS + 1_600_000_000 * 10**9
    return stamps, values


def _run(stamps: np.ndarray, values: np.ndarray) -> tuple[ChannelDetector, list]:
    detector = ChannelDetector()
    return detector, final_anomalies(detector, stamps, values)


def test_period_learned_after_the_warm_up() -> None:
    stamps, values = _daily(12, None)
    detector, _ = _run(stamps, values)
    config = DetectorConfig()
    limits = next(d for d in detector.detectors if isinstance(d, LimitsDetector))
    profile = next(d for d in detector.detectors if isinstance(d, MatrixProfileDetector))
    assert limits.period is not None and abs(limits.period - PERIOD) <= 2
    assert profile.scorer.period is not None and abs(profile.scorer.period - PERIOD) <= 2
    assert profile.m > config.m_default


def test_missing_jump_flagged_and_ordinary_days_quiet() -> None:
    missing_day = 10
    stamps, values = _daily(12, missing_day)
    _, anomalies = _run(stamps, values)
    full_window = DetectorConfig().window
    after_window = [a for a in anomalies if a.start.value >= int(stamps[full_window])]
    day_start = int(stamps[missing_day * PERIOD])
    day_end = int(stamps[(missing_day + 1) * PERIOD - 1])
    on_day = [a for a in after_window if day_start <= a.start.value <= day_end]
    # ordinary days between the full window and the day before the missing one raise
    # nothing (a change point found later may place its start on the day before)
    before = [
        a
        for a in after_window
        if a.start.value < day_start - PERIOD * CADENCE_NS and a.detector != "changepoint"
    ]
    assert on_day, [(a.detector, a.kind, a.start) for a in anomalies]
    assert not before, [(a.detector, a.kind, a.start) for a in before]


def test_ordinary_days_do_not_alarm_daily() -> None:
    stamps, values = _daily(12, None)
    _, anomalies = _run(stamps, values)
    full_window = DetectorConfig().window
    # the window change-point detector's cuts of a periodic channel are a known
    # limitation (README); this checks the detectors that learn the period
    late = [
        a
        for a in anomalies
        if a.start.value >= int(stamps[full_window]) and a.detector != "changepoint"
    ]
    assert not late, [(a.detector, a.kind, a.start) for a in late]
