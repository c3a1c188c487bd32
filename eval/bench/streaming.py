"""Benchmark 1: streaming detection per new point against a batch recompute of the window.

Baseline: for every new point, ``stumpy.stump`` over the whole window (all cores), whose
last profile value is the new subsequence's left matrix-profile value. Measured paths:
``stumpy.stumpi(..., egress=True).update`` on one thread, as
``detection.matrix_profile.MatrixProfileScorer`` runs it, and the whole
``detection.stream.ChannelDetector`` (every detector of a channel). The left profile
values of the streamed points and their discord are checked equal to the batch ones.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import stumpy
from numpy.typing import NDArray

from detection import ChannelDetector, DetectorConfig
from detection.matrix_profile import LeftProfileStream, single_threaded
from eval.bench.common import BenchResult, Figure, ratio, sine_signal

logger = logging.getLogger(__name__)

NAME = "streaming"
#: subsequence length of every run, points (the sine period is 50)
M = 50
PERIOD = 50
TARGET_RATIO = 50.0
TARGET_WINDOW = 10_000
CADENCE_NS = 1_000_000_000


@dataclass(frozen=True)
class StreamingSizes:
    """Window sizes, streamed points per window, batch repetitions per window."""

    windows: tuple[int, ...] = (1_000, 10_000, 100_000)
    streamed: int = 200
    batch_repeats: tuple[int, ...] = (30, 5, 1)
    detector_windows: tuple[int, ...] = (1_000, 10_000)


def run(sizes: StreamingSizes = StreamingSizes()) -> BenchResult:
    """Run the streaming benchmark at every window size."""
    result = BenchResult(NAME, "Streaming detection per point vs batch recompute")
    result.sizes = {
        "windows": list(sizes.windows),
        "streamed points per window": sizes.streamed,
        "batch recomputes per window": list(sizes.batch_repeats),
        "m": M,
    }
    begin = time.perf_counter()
    _quiet_stumpy()
    _compile()
    for window, repeats in zip(sizes.windows, sizes.batch_repeats, strict=True):
        batch_ms = _one_window(result, window, sizes.streamed, repeats)
        if window in sizes.detector_windows:
            _channel_detector(result, window, sizes.streamed, batch_ms)
    skipped = [w for w in sizes.windows if w not in sizes.detector_windows]
    if skipped:
        result.notes.append(
            "the whole ChannelDetector is not run at window(s) "
            + ", ".join(f"{w:,}" for w in skipped)
            + ": its warm-up alone is two batch profiles of the window"
        )
    result.seconds = time.perf_counter() - begin
    return result


def _quiet_stumpy() -> None:
    warnings.filterwarnings("ignore", message="A large number of values", category=UserWarning)


def _compile() -> None:
    """Run both paths once on a tiny series, so no timing includes numba's start-up."""
    values = sine_signal(400, PERIOD, seed=1)
    stumpy.stump(values, M)
    stream = stumpy.stumpi(values[:300], M, egress=True)
    lighter = LeftProfileStream(stream)
    with single_threaded():
        for value in values[300:]:
            stream.update(value)
            lighter.update(value)


def _one_window(result: BenchResult, window: int, streamed: int, repeats: int) -> float:
    """Add the stumpi figure of one window; return the batch recompute time, ms."""
    # the distorted stretch starts inside the points compared with the batch baseline
    compared = max(1, min(repeats, streamed))
    values = sine_signal(window + streamed, PERIOD, seed=window, anomaly_at=window - M // 2)

    # batch: recompute the window's profile for each of the first `compared` new points
    batch_lp = np.empty(compared)
    begin = time.perf_counter()
    for k in range(compared):
        current = values[k + 1 : window + k + 1]
        batch_lp[k] = float(stumpy.stump(current, M)[-1, 0])
    batch_s = (time.perf_counter() - begin) / compared

    # one initial profile (a stump of the window) serves both streaming paths
    plain = stumpy.stumpi(values[:window], M, egress=True)
    lighter = LeftProfileStream(plain)
    for label, update in (
        ("stumpy.stumpi update", _plain_update(plain)),
        ("LeftProfileStream update (the detector's path)", lighter.update),
    ):
        stream_s, stream_lp = _stream(update, values[window:])
        _add_stream_figure(result, label, window, compared, batch_s, stream_s, stream_lp, batch_lp)
    return batch_s * 1e3


def _plain_update(stream: stumpy.stumpi) -> Callable[[float], float]:
    def update(value: float) -> float:
        stream.update(value)
        return float(stream.left_P_[-1])

    return update


def _stream(
    update: Callable[[float], float], new: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]]:
    """Seconds per update on one thread, and the left-MP value after each update."""
    out = np.empty(new.size)
    with single_threaded():
        begin = time.perf_counter()
        for k, value in enumerate(new.tolist()):
            out[k] = update(value)
        seconds = (time.perf_counter() - begin) / new.size
    return seconds, out


def _add_stream_figure(
    result: BenchResult,
    label: str,
    window: int,
    compared: int,
    batch_s: float,
    stream_s: float,
    stream_lp: NDArray[np.float64],
    batch_lp: NDArray[np.float64],
) -> None:
    same_values = bool(np.allclose(stream_lp[:compared], batch_lp, rtol=1e-5, atol=1e-6))
    same_discord = int(np.argmax(stream_lp[:compared])) == int(np.argmax(batch_lp))
    gain = ratio(batch_s, stream_s)
    at_target = window == TARGET_WINDOW
    estimated = " (from few repetitions)" if compared < 5 else ""
    result.add(
        Figure(
            NAME,
            f"{label}, window {window:,}",
            stream_s * 1e3,
            "ms/point",
            f"stumpy.stump of the window{estimated}",
            batch_s * 1e3,
            gain,
            f">= {TARGET_RATIO:.0f}x at {TARGET_WINDOW:,}" if at_target else "-",
            gain >= TARGET_RATIO if at_target else None,
            f"left-MP of {compared} streamed points equal to batch: {same_values}; "
            f"discord equal: {same_discord}",
        )
    )
    logger.info(
        "window %d, %s: %.3f ms/point, batch %.1f ms", window, label, stream_s * 1e3, batch_s * 1e3
    )
    if not (same_values and same_discord):
        result.notes.append(
            f"window {window}, {label}: streamed and batch left matrix profiles differ "
            f"(max abs difference {np.max(np.abs(stream_lp[:compared] - batch_lp)):.3g})"
        )


def _channel_detector(result: BenchResult, window: int, streamed: int, batch_ms: float) -> None:
    config = DetectorConfig(window=window, warmup=window, m=M)
    values = sine_signal(window + streamed, PERIOD, seed=window + 1)
    ts = np.arange(values.size, dtype=np.int64) * CADENCE_NS + 1_700_000_000 * CADENCE_NS
    detector = ChannelDetector(config)
    begin = time.perf_counter()
    detector.warm(ts[:window], values[:window])
    warm_s = time.perf_counter() - begin

    begin = time.perf_counter()
    for k in range(window, values.size):
        detector.update(ts[k : k + 1], values[k : k + 1])
    per_point = (time.perf_counter() - begin) / streamed

    result.add(
        Figure(
            NAME,
            f"ChannelDetector (all detectors), window {window:,}",
            per_point * 1e3,
            "ms/point",
            "stumpy.stump of the window",
            batch_ms,
            ratio(batch_ms, per_point * 1e3),
            note=f"warm-up of the window took {warm_s:.1f} s",
        )
    )
