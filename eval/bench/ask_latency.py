"""Benchmark 4: `/ask` latency (planner mode) with concurrent clients on a large store.

The store (SQLite, as the embedded default) is filled with bulk inserts: satellites
and channels through the repository, points through ``repository.insert_points`` and
anomalies through one multi-row insert. `imon serve` then answers a fixed mix of
questions from 20 concurrent clients of the load generator (its own process).
Baseline: the same questions from one client at a time, against the same server.
The vector index is off (its search is benchmark 6).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlmodel import Session

from eval.bench.common import BenchResult, Figure, percentile, ratio, sqlite_store
from eval.bench.server import BENCH_KEY, load, running_server
from store import repository
from store.models import Anomaly

logger = logging.getLogger(__name__)

NAME = "ask"
TARGET_P95_MS = 300.0
KINDS = ("spike", "level_shift", "variance_change", "trend_change", "flatline", "pattern")
SEVERITIES = ("low", "medium", "high", "critical")
QUESTIONS = (
    "which anomalies happened in the last hour?",
    "anomalies on SAT-2 yesterday",
    "what went wrong on SAT-1 in the last 24 hours?",
    "high severity anomalies this week",
    "how many anomalies on SAT-3 last week?",
    "when was the last spike on SAT-2?",
    "explain the latest anomaly on SAT-1",
    "anomalies on SAT-4 channel ch_007 in the last 3 days",
)


@dataclass(frozen=True)
class AskSizes:
    """Store size and load: points, anomalies, channels, clients, seconds per phase."""

    points: int = 1_000_000
    anomalies: int = 10_000
    satellites: int = 4
    channels_per_satellite: int = 25
    clients: int = 20
    seconds: float = 40.0
    baseline_seconds: float = 20.0


def build_store(home: Path, sizes: AskSizes, now: datetime) -> float:
    """Fill ``home``'s SQLite store; return the seconds it took."""
    begin = time.perf_counter()
    engine = sqlite_store(home)
    channels = sizes.satellites * sizes.channels_per_satellite
    per_channel = sizes.points // channels
    cadence = timedelta(days=7) / per_channel
    ts = pd.date_range(end=now, periods=per_channel, freq=cadence)
    rng = np.random.default_rng(11)
    ids = []
    with Session(engine) as session:
        for s in range(1, sizes.satellites + 1):
            satellite = repository.get_or_create_satellite(session, f"SAT-{s}")
            for c in range(sizes.channels_per_satellite):
                channel = repository.get_or_create_channel(session, satellite, f"ch_{c:03d}")
                assert channel.id is not None
                ids.append(channel.id)
                values = np.sin(np.arange(per_channel) / 50.0) + rng.normal(0, 0.1, per_channel)
                repository.insert_points(session, channel.id, ts, values)
        session.execute(insert(Anomaly), _anomalies(sizes.anomalies, ids, ts, rng))
        session.commit()
    engine.dispose()
    return time.perf_counter() - begin


def _anomalies(
    count: int, channel_ids: list[int], ts: pd.DatetimeIndex, rng: np.random.Generator
) -> list[dict[str, object]]:
    rows = []
    created = datetime.now(UTC)
    per_channel = -(-count // len(channel_ids))
    spacing = max((len(ts) - 20) // per_channel, 1)
    for n in range(count):
        # the j-th anomaly of a channel falls in the j-th of its equal time slots
        start = (n // len(channel_ids)) * spacing + int(rng.integers(0, spacing))
        begin = ts[start].to_pydatetime()
        rows.append(
            {
                "channel_id": channel_ids[n % len(channel_ids)],
                "start": begin,
                "end": ts[start + int(rng.integers(1, 20))].to_pydatetime(),
                "kind": KINDS[n % len(KINDS)],
                "score": float(rng.uniform(5, 50)),
                "severity": SEVERITIES[int(rng.integers(0, len(SEVERITIES)))],
                "detector": "matrix_profile",
                "ongoing": False,
                "params": {"magnitude": float(rng.uniform(3, 30))},
                "status": "open",
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def run(sizes: AskSizes = AskSizes()) -> BenchResult:
    """Build the store, then measure /ask latencies with one and with many clients."""
    result = BenchResult(NAME, "/ask latency, planner mode, concurrent clients")
    result.sizes = {
        "points": sizes.points,
        "anomalies": sizes.anomalies,
        "channels": sizes.satellites * sizes.channels_per_satellite,
        "clients": sizes.clients,
        "seconds under load": sizes.seconds,
        "questions": len(QUESTIONS),
    }
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imon-bench-ask-") as tmp:
        home = Path(tmp)
        built = build_store(home, sizes, datetime.now(UTC).replace(microsecond=0))
        result.notes.append(f"store built with bulk inserts in {built:.1f} s")
        questions = json.dumps(list(QUESTIONS))
        with running_server(home, IMON_INDEX="false", IMON_AGENT_MODE="planner") as url:
            common = ["ask", "--url", url, "--key", BENCH_KEY, "--questions", questions]
            load(*common, "--clients", "1", "--seconds", "5")  # warm caches
            single = load(*common, "--clients", "1", "--seconds", str(sizes.baseline_seconds))
            many = load(*common, "--clients", str(sizes.clients), "--seconds", str(sizes.seconds))
    _add(result, sizes.clients, single, many)
    result.seconds = time.perf_counter() - begin
    return result


def _add(result: BenchResult, clients: int, single: dict[str, Any], many: dict[str, Any]) -> None:
    for answers in (single, many):
        bad = {k: n for k, n in answers["statuses"].items() if k != "200"}
        if bad:
            result.notes.append(f"non-200 answers: {bad}")
    one = [s * 1e3 for s in single["latencies"]]
    loaded = [s * 1e3 for s in many["latencies"]]
    for q in (50.0, 95.0):
        value, base = percentile(loaded, q), percentile(one, q)
        target = q == 95.0
        result.add(
            Figure(
                NAME,
                f"p{q:.0f} latency, {clients} clients",
                value,
                "ms",
                f"p{q:.0f} with 1 client",
                base,
                ratio(base, value),
                f"p95 < {TARGET_P95_MS:.0f} ms" if target else "-",
                value < TARGET_P95_MS if target else None,
                f"{len(loaded)} answers, {len(loaded) / many['seconds']:.1f} answers/s"
                if target
                else "",
            )
        )
    logger.info("ask: p50 %.0f ms, p95 %.0f ms", percentile(loaded, 50), percentile(loaded, 95))
