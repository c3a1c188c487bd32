"""Streaming and batch detection on synthetic signals, bad input and the event contract."""

from __future__ import annotations

import numpy as np
import pytest

import detection
from detection import ChannelDetector, DetectedAnomaly, DetectorConfig, detect_series

N = 3000
AT = 2000  # where the synthetic anomaly starts
STEP_NS = 60 * 10**9
PERIOD = 50


@pytest.fixture(scope="session")
def clean() -> tuple[np.ndarray, np.ndarray]:
    """A periodic channel with noise: one-minute cadence, period 50 points."""
    t = np.arange(N)
    values = np.sin(2 * np.pi * t / PERIOD) + np.random.default_rng(7).normal(0, 0.1, N)
    return (t * STEP_NS).astype(np.int64), values


def _inject(kind: str, ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ts, values = ts.copy(), values.copy()
    if kind == "spike":
        values[AT] += 6.0
    elif kind == "level_shift":
        values[AT:] += 2.0
    elif kind == "variance_change":
        values[AT:] += np.random.default_rng(3).normal(0, 0.6, N - AT)
    elif kind == "flatline":
        values[AT : AT + 150] = values[AT]
    elif kind == "gap":
        keep = np.r_[0:AT, AT + 100 : N]
        ts, values = ts[keep], values[keep]
    return ts, values


@pytest.fixture(scope="session")
def found(clean: tuple[np.ndarray, np.ndarray]) -> dict[str, list[DetectedAnomaly]]:
    """Detections for every injected kind, computed once per session."""
    kinds = ["clean", "spike", "level_shift", "variance_change", "flatline", "gap"]
    return {kind: detect_series(*_inject(kind, *clean)) for kind in kinds}


@pytest.mark.parametrize(
    ("kind", "tolerance"),
    [("spike", 3), ("level_shift", 10), ("variance_change", 60), ("flatline", 1), ("gap", 1)],
)
def test_injected_anomaly_is_found_with_its_kind_near_its_time(
    found: dict[str, list[DetectedAnomaly]],
    clean: tuple[np.ndarray, np.ndarray],
    kind: str,
    tolerance: int,
) -> None:
    expected_start = clean[0][AT - 1] if kind == "gap" else clean[0][AT]

    matches = [
        a
        for a in found[kind]
        if a.kind == kind and abs(a.start.value - expected_start) <= tolerance * STEP_NS
    ]

    assert matches, [(a.detector, a.kind, a.start) for a in found[kind]]
    assert all(not a.ongoing for a in found[kind])


def test_gap_spans_last_point_before_to_first_point_after(
    found: dict[str, list[DetectedAnomaly]], clean: tuple[np.ndarray, np.ndarray]
) -> None:
    gap = next(a for a in found["gap"] if a.kind == "gap")

    assert (gap.start.value, gap.end.value) == (clean[0][AT - 1], clean[0][AT + 100])
    assert gap.score == pytest.approx(101)


def test_clean_periodic_signal_yields_almost_no_anomalies(
    found: dict[str, list[DetectedAnomaly]],
) -> None:
    assert len(found["clean"]) <= 1, found["clean"]


def test_events_carry_magnitude_baseline_m_window_and_a_valid_severity(
    found: dict[str, list[DetectedAnomaly]],
) -> None:
    events = [a for kind in found.values() for a in kind]

    for a in events:
        assert a.kind in detection.KINDS
        assert a.severity in detection.SEVERITIES
        assert a.start <= a.end
        assert str(a.start.tz) == "UTC"
        assert {"magnitude", "baseline_median", "m", "window"} <= set(a.params)


def test_streaming_in_chunks_keeps_start_fixed_and_matches_batch(
    clean: tuple[np.ndarray, np.ndarray], found: dict[str, list[DetectedAnomaly]]
) -> None:
    ts, values = _inject("flatline", *clean)
    detector = ChannelDetector()
    latest: dict[tuple[str, object], DetectedAnomaly] = {}

    for lo in range(0, N, 37):
        for a in detector.update(ts[lo : lo + 37], values[lo : lo + 37]):
            key = (a.detector, a.start)
            if key in latest:
                assert a.end >= latest[key].end
            latest[key] = a
    for a in detector.flush():
        latest[(a.detector, a.start)] = a

    def summary(items: list[DetectedAnomaly]) -> list[tuple[str, str, object, object]]:
        return sorted((a.detector, a.kind, a.start, a.end) for a in items)

    assert summary(list(latest.values())) == summary(found["flatline"])


def test_flatline_is_reported_ongoing_before_it_ends(clean: tuple[np.ndarray, np.ndarray]) -> None:
    ts, values = _inject("flatline", *clean)
    detector = ChannelDetector(detectors=["flatline"])

    reported = detector.update(ts[: AT + 120], values[: AT + 120])

    assert [(a.kind, a.ongoing, a.start.value) for a in reported] == [("flatline", True, ts[AT])]
    closed = detector.update(ts[AT + 120 :], values[AT + 120 :])
    assert [(a.ongoing, a.start.value, a.end.value) for a in closed] == [
        (False, ts[AT], ts[AT + 149])
    ]


def test_warm_reports_nothing_and_later_points_are_scored(
    clean: tuple[np.ndarray, np.ndarray],
) -> None:
    ts, values = _inject("spike", *clean)
    detector = ChannelDetector(detectors=["limits", "matrix_profile"])

    detector.warm(ts[:1500], values[:1500])
    reported = detector.update(ts[1500:], values[1500:]) + detector.flush()

    assert detector.ready
    assert any(a.kind == "spike" and a.start.value == ts[AT] for a in reported)
    assert all(a.start.value >= ts[1500] for a in reported)


def test_nan_inf_and_out_of_order_points_are_skipped_and_counted(
    clean: tuple[np.ndarray, np.ndarray],
) -> None:
    ts, values = clean[0][:800].copy(), clean[1][:800].copy()
    values[[10, 500]] = np.nan
    values[600] = np.inf
    values[601] = -np.inf
    ts_bad = np.concatenate([ts[:700], ts[650:660], ts[699:700], ts[700:]])
    values_bad = np.concatenate([values[:700], values[650:660], values[699:700], values[700:]])
    detector = ChannelDetector(detectors=["limits", "matrix_profile", "gap"])

    detector.update(ts_bad, values_bad)
    detector.update(ts[:5], values[:5])
    detector.flush()

    assert detector.skipped_nonfinite == 4
    assert detector.dropped_out_of_order == 11 + 5
    assert detector.history.size == 800 - 4


def test_empty_update_returns_nothing() -> None:
    detector = ChannelDetector()

    assert detector.update(np.array([], dtype=np.int64), np.array([])) == []
    assert detector.flush() == []


@pytest.mark.parametrize(
    ("timestamps", "values", "message"),
    [
        (np.arange(3), np.zeros(4), "timestamps has 3 points but values has 4"),
        (np.arange(4.0), np.zeros(4), "timestamps must be int64"),
        (np.zeros((2, 2), dtype=np.int64), np.zeros(4), "1-D"),
        (np.arange(2), np.array(["a", "b"]), "values must be numeric"),
    ],
)
def test_update_rejects_bad_arrays_naming_the_argument(
    timestamps: np.ndarray, values: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ChannelDetector().update(timestamps, values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be a positive int"),
        ({"mp_threshold": -1.0}, "mp_threshold must be a positive number"),
        ({"m": 2}, "m must be None or an int >= 3"),
        ({"m_min": 64, "m_max": 8}, "exceeds m_max"),
        ({"m": 200}, "shorter than 4 \\* m"),
        ({"warmup": 3000}, "warmup <= window"),
    ],
)
def test_config_rejects_bad_values_with_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DetectorConfig(**kwargs)  # type: ignore[arg-type]


def test_unknown_detector_name_is_rejected_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="unknown detector 'nope'; choose one of"):
        ChannelDetector(detectors=["nope"])


def test_detect_series_rejects_malformed_history(clean: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="history must be a"):
        detect_series(clean[0][:10], clean[1][:10], history=[1, 2])  # type: ignore[arg-type]


def test_public_names_are_pinned() -> None:
    assert set(detection.__all__) == {
        "DETECTORS",
        "KINDS",
        "SEVERITIES",
        "SEVERITY_SCALE",
        "ChannelDetector",
        "DetectedAnomaly",
        "DetectorConfig",
        "detect_series",
        "dominant_period",
        "enable_compile_cache",
        "get_detector",
        "left_matrix_profile",
    }
    assert set(detection.DETECTORS) == {
        "matrix_profile",
        "reference",
        "changepoint",
        "limits",
        "gap",
        "flatline",
    }
