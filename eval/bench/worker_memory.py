"""Benchmark 5: worker memory for many channels, and how many channels one worker keeps up.

The detectors run in a child process (``python -m eval.bench.worker_memory``) so its
resident memory (RSS, from /proc) holds nothing else. One ``ChannelDetector`` is warmed
with a full window (``warmup`` = ``window``, so the detectors start once on the whole
history) and scores one point; every channel then gets its own deep copy of it (the
same memory as warming each, in seconds instead of an hour), and receives one point
per round. The store's share of a worker poll (``Pipeline.ingest`` of one point per
channel, no detection) is timed in this process on SQLite.

Baselines: memory against the raw window data (timestamp + value, 16 bytes a point);
channels kept current against a worker that would recompute each window's matrix
profile in batch (``stumpy.stump``) for every new point.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eval.bench.common import BenchResult, Figure, ratio, sine_signal, sqlite_store

logger = logging.getLogger(__name__)

NAME = "worker"
CADENCE_NS = 1_000_000_000
M = 50


@dataclass(frozen=True)
class WorkerSizes:
    """Channels, window, rounds of one point per channel, channels in the store test."""

    channels: int = 1_000
    window: int = 10_000
    rounds: int = 5
    store_channels: int = 200


def rss_bytes() -> int:
    """Resident memory of this process, bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(channels: int, window: int, rounds: int) -> dict[str, Any]:
    """Warm ``channels`` detectors, time rounds of one point each; runs in the child."""
    import stumpy

    from detection import ChannelDetector, DetectorConfig, enable_compile_cache

    enable_compile_cache()
    config = DetectorConfig(window=window, warmup=window, m=M)
    values = sine_signal(window + rounds + 1, 50, seed=5)
    ts = np.arange(values.size, dtype=np.int64) * CADENCE_NS + 1_700_000_000 * CADENCE_NS
    template = ChannelDetector(config)
    begin = time.perf_counter()
    template.warm(ts[:window], values[:window])
    # the first scored point activates what starts lazily (e.g. a reference profile)
    template.update(ts[window : window + 1], values[window : window + 1])
    warm_s = time.perf_counter() - begin
    before = rss_bytes()

    # every channel holds its own copy of a warmed detector: the same arrays, the same
    # memory as warming each one, without repeating the warm-up a thousand times
    detectors = [copy.deepcopy(template) for _ in range(channels)]
    after = rss_bytes()

    begin = time.perf_counter()
    for r in range(1, rounds + 1):
        k = window + r
        for detector in detectors:
            detector.update(ts[k : k + 1], values[k : k + 1])
    per_point = (time.perf_counter() - begin) / (rounds * channels)

    batch = min(_timed_stump(stumpy, values[:window]) for _ in range(2))
    return {
        "rss_before": before,
        "rss_after": after,
        "warm_s": warm_s,
        "per_point_s": per_point,
        "batch_s": batch,
    }


def _timed_stump(stumpy: Any, values: np.ndarray) -> float:
    begin = time.perf_counter()
    stumpy.stump(values, M)
    return time.perf_counter() - begin


def run(sizes: WorkerSizes = WorkerSizes()) -> BenchResult:
    """Run the detectors in a child process and the store's share here."""
    result = BenchResult(NAME, "Worker memory and channels kept current")
    result.sizes = {
        "channels": sizes.channels,
        "window": sizes.window,
        "rounds of one point per channel": sizes.rounds,
        "channels in the store timing": sizes.store_channels,
    }
    begin = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "eval.bench.worker_memory",
            str(sizes.channels),
            str(sizes.window),
            str(sizes.rounds),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    if child.returncode != 0:
        raise RuntimeError(f"worker benchmark child failed: {child.stderr[-2000:]}")
    found = json.loads(child.stdout.strip().splitlines()[-1])
    store_s = _store_share(sizes.store_channels)

    grown = found["rss_after"] - found["rss_before"]
    raw = sizes.channels * sizes.window * 16
    result.add(
        Figure(
            NAME,
            f"RSS growth for {sizes.channels:,} channels at a {sizes.window:,}-point window",
            grown / 2**20,
            "MiB",
            "raw window data (16 bytes a point)",
            raw / 2**20,
            ratio(raw, grown),
            note=f"{grown / sizes.channels / 2**10:.0f} KiB a channel; process RSS "
            f"{found['rss_after'] / 2**20:.0f} MiB; warming one channel took "
            f"{found['warm_s']:.1f} s",
        )
    )
    detect = found["per_point_s"]
    result.add(
        Figure(
            NAME,
            "channels kept current at 1 point/channel/s (detection only)",
            1.0 / detect,
            "channels",
            "batch stumpy.stump of the window per point",
            1.0 / found["batch_s"],
            ratio(found["batch_s"], detect),
            note=f"{detect * 1e3:.2f} ms a point over {sizes.channels:,} channels",
        )
    )
    result.add(
        Figure(
            NAME,
            "channels kept current at 1 point/channel/s (store + detection)",
            1.0 / (detect + store_s),
            "channels",
            "batch stumpy.stump of the window per point",
            1.0 / found["batch_s"],
            ratio(found["batch_s"], detect + store_s),
            note=f"store write {store_s * 1e3:.2f} ms a channel per poll (SQLite)",
        )
    )
    result.seconds = time.perf_counter() - begin
    return result


def _store_share(channels: int) -> float:
    """Seconds a worker poll spends storing one point of one channel (SQLite, no detection)."""
    from ingestion.pipeline import Pipeline

    with tempfile.TemporaryDirectory(prefix="imon-bench-worker-") as tmp:
        engine = sqlite_store(Path(tmp))
        pipeline = Pipeline(engine)
        names = [f"ch_{c:04d}" for c in range(channels)]
        start = pd.Timestamp("2026-01-01", tz="UTC")
        elapsed = 0.0
        rounds = 3
        for r in range(rounds + 1):
            frame = pd.DataFrame(
                {"ts": start + pd.Timedelta(seconds=r), "channel": names, "value": float(r)}
            )
            begin = time.perf_counter()
            pipeline.ingest("WORKER-1", frame, source="bench", detect=False)
            if r:  # the first round creates the channels
                elapsed += time.perf_counter() - begin
        engine.dispose()
    return elapsed / (rounds * channels)


def main(argv: list[str] | None = None) -> int:
    """Child entry point: measure and print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m eval.bench.worker_memory")
    parser.add_argument("channels", type=int)
    parser.add_argument("window", type=int)
    parser.add_argument("rounds", type=int)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(measure(args.channels, args.window, args.rounds)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
