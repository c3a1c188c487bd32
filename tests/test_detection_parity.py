"""Streaming parity: feeding a channel point by point gives exactly the batch result.

``detect_series`` (the batch path of ``imon detect`` and the agent's detection tool) and
a worker feeding ``ChannelDetector.update`` one point at a time, or in uneven chunks,
must agree on every anomaly: detector, kind, start, end, score, severity, ongoing and
params, on synthetic signals of every kind and on a real SMAP/MSL channel preceded by
its train split as reference (which runs the reference detector).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection import ChannelDetector, DetectedAnomaly, detect_series

N = 2400
AT = 1700
STEP_NS = 60 * 10**9
PERIOD = 40
HISTORY = 900


def _signal(kind: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(N)
    values = np.sin(2 * np.pi * t / PERIOD) + np.random.default_rng(11).normal(0, 0.1, N)
    ts = (t * STEP_NS).astype(np.int64)
    if kind == "spike":
        values[AT] += 6.0
    elif kind == "level_shift":
        values[AT:] += 2.0
    elif kind == "flatline":
        values[AT : AT + 120] = values[AT]
    elif kind == "gap":
        keep = np.r_[0:AT, AT + 80 : N]
        ts, values = ts[keep], values[keep]
    elif kind == "pattern":
        values[AT : AT + PERIOD] = np.sin(4 * np.pi * t[AT : AT + PERIOD] / PERIOD)
    return ts, values


Key = tuple[str, int]


def _final(items: list[DetectedAnomaly]) -> dict[Key, DetectedAnomaly]:
    out: dict[Key, DetectedAnomaly] = {}
    for a in items:
        out[(a.detector, a.start.value)] = a
    return out


def _streamed(
    ts: np.ndarray,
    values: np.ndarray,
    history: tuple[np.ndarray, np.ndarray] | None,
    chunk: int,
) -> dict[Key, DetectedAnomaly]:
    """Final state of every anomaly when points arrive ``chunk`` at a time.

    The history, if any, is both the reference and the warm-up of the detector.
    """
    detector = ChannelDetector()
    if history is not None:
        detector.set_reference(history[1])
        detector.warm(*history)
    seen: dict[Key, DetectedAnomaly] = {}
    for lo in range(0, ts.size, chunk):
        for a in detector.update(ts[lo : lo + chunk], values[lo : lo + chunk]):
            key = (a.detector, a.start.value)
            if key in seen:
                # an anomaly only grows: its identity stays, its end never moves back
                assert a.end >= seen[key].end
            seen[key] = a
    seen.update(_final(detector.flush()))
    return seen


def _assert_same(batch: list[DetectedAnomaly], streamed: dict[Key, DetectedAnomaly]) -> None:
    expected = _final(batch)
    assert sorted(streamed) == sorted(expected)
    for key, a in expected.items():
        b = streamed[key]
        assert (b.kind, b.start, b.end, b.severity, b.ongoing) == (
            a.kind,
            a.start,
            a.end,
            a.severity,
            a.ongoing,
        ), key
        assert b.score == a.score, key
        assert b.params == a.params, key


@pytest.mark.parametrize("kind", ["spike", "level_shift", "flatline", "gap", "pattern"])
def test_point_by_point_stream_equals_batch_on_every_kind(kind: str) -> None:
    ts, values = _signal(kind)

    batch = detect_series(ts, values)
    streamed = _streamed(ts, values, None, chunk=1)

    assert batch, f"the injected {kind} should be detected, so parity is not vacuous"
    _assert_same(batch, streamed)


@pytest.mark.parametrize("chunk", [1, 7, 250])
def test_stream_after_a_reference_equals_batch_with_that_reference(chunk: int) -> None:
    ts, values = _signal("pattern")
    history = (ts[:HISTORY], values[:HISTORY])

    batch = detect_series(ts[HISTORY:], values[HISTORY:], history=history, reference=history[1])
    streamed = _streamed(ts[HISTORY:], values[HISTORY:], history, chunk)

    assert any(a.detector == "reference" for a in batch)
    _assert_same(batch, streamed)


def test_real_channel_with_train_split_streams_exactly_like_batch(shared_data: Path) -> None:
    train = np.load(shared_data / "smap_msl" / "train" / "T-9.npy")[:, 0].astype(float)
    test = np.load(shared_data / "smap_msl" / "test" / "T-9.npy")[:, 0].astype(float)
    ts = (np.arange(train.size + test.size) * STEP_NS).astype(np.int64)
    history = (ts[: train.size], train)

    batch = detect_series(ts[train.size :], test, history=history, reference=train)
    streamed = _streamed(ts[train.size :], test, history, chunk=1)

    # MSL T-9's labelled windows are rows 780-810 and 890-970 of the test split
    labelled = ts[train.size + 780], ts[train.size + 970]
    assert any(a.start.value <= labelled[1] and a.end.value >= labelled[0] for a in batch)
    _assert_same(batch, streamed)
