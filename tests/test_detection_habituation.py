"""Habituation: anomalies no stronger than a channel's usual ones score lower."""

from __future__ import annotations

import numpy as np
import pytest

from detection import ChannelDetector, DetectorConfig
from detection.habituation import Habituation
from tests.stream_helpers import final_anomalies

CADENCE_NS = 60_000_000_000


def test_no_discount_before_enough_history() -> None:
    config = DetectorConfig()
    habituation = Habituation(config)
    for k in range(config.habituation_min):
        assert habituation.typical("limits", ("limits", k)) is None
        habituation.observe("limits", ("limits", k), 20.0)
    assert habituation.typical("limits", ("limits", 99)) == pytest.approx(20.0)


def test_weaker_anomaly_discounted_stronger_kept() -> None:
    config = DetectorConfig(habituation_power=2.0)
    habituation = Habituation(config)
    for k, score in enumerate((10.0, 20.0, 30.0, 40.0)):
        habituation.observe("limits", k, score)
    typical = habituation.typical("limits", "new")
    assert typical == pytest.approx(float(np.quantile([10, 20, 30, 40], 0.75)))
    assert typical is not None
    assert habituation.factor(typical / 2, typical) == pytest.approx(0.25)
    assert habituation.factor(typical * 3, typical) == 1.0
    # an anomaly is never compared with itself
    habituation.observe("limits", "new", 1000.0)
    assert habituation.typical("limits", "new") == pytest.approx(typical)


def test_memory_forgets_the_oldest() -> None:
    config = DetectorConfig(habituation_memory=3, habituation_min=3)
    habituation = Habituation(config)
    for k, score in enumerate((100.0, 100.0, 100.0, 1.0, 1.0, 1.0)):
        habituation.observe("limits", k, score)
    typical = habituation.typical("limits", "new")
    assert typical == pytest.approx(1.0)


def test_each_detector_has_its_own_memory() -> None:
    habituation = Habituation(DetectorConfig())
    for k in range(5):
        habituation.observe("limits", k, 100.0)
    assert habituation.typical("changepoint", "new") is None
    for k in range(5):
        habituation.observe("changepoint", k, 2.0)
    assert habituation.typical("changepoint", "new") == pytest.approx(2.0)
    assert habituation.typical("limits", "new") == pytest.approx(100.0)


def test_bad_quantile_names_the_field() -> None:
    with pytest.raises(ValueError, match="habituation_quantile"):
        DetectorConfig(habituation_quantile=1.5)


def _spiky_series(heights: list[float], every: int = 150) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 600 + every * len(heights)
    values = rng.normal(0.0, 1.0, n)
    for k, height in enumerate(heights):
        values[600 + every * k] += height
    stamps = np.arange(n, dtype=np.int64) * CADENCE_NS + 1_700_000_000 * 10**9
    return stamps, values


def test_repeated_spikes_habituate_and_a_bigger_one_stands_out() -> None:
    heights = [15.0] * 8 + [60.0]
    stamps, values = _spiky_series(heights)
    final = final_anomalies(ChannelDetector(), stamps, values)
    spikes = sorted((a for a in final if a.kind == "spike"), key=lambda a: a.start)
    assert len(spikes) >= 6, [(a.detector, a.kind, a.start) for a in final]
    discounted = [a for a in spikes if "habituation" in a.params]
    assert discounted, "later spikes of the usual height should be discounted"
    for anomaly in discounted:
        info = anomaly.params["habituation"]
        assert anomaly.score < info["raw_score"]
        assert anomaly.score == pytest.approx(info["raw_score"] * info["discount"], rel=1e-4)
    first = spikes[0]
    assert "habituation" not in first.params
    big = spikes[-1]
    assert big.start.value == int(stamps[600 + 150 * 8])
    assert "habituation" not in big.params
    assert big.score > max(a.score for a in spikes[:-1])


def test_habituation_can_be_switched_off_by_power() -> None:
    heights = [15.0] * 8
    stamps, values = _spiky_series(heights)
    tiny = DetectorConfig(habituation_power=1e-9)
    final = final_anomalies(ChannelDetector(tiny), stamps, values)
    for anomaly in final:
        info = anomaly.params.get("habituation")
        if info is not None:
            assert info["discount"] == pytest.approx(1.0, abs=1e-6)
