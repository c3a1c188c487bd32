"""Benchmark 3: HTTP push throughput of `/ingest` and the KairosDB-compatible route.

`imon serve` runs in its own process on a free loopback port; the load generator
(:mod:`eval.bench.loadgen`) runs in another. Each push is validated, stored and
detected on, as in production (the vector index is off so the embedding model does not
load). Baseline: the same pushes, decoded and validated, given to ``Pipeline.ingest`` in
this process on a fresh store, without HTTP: the ratio is the share of the pipeline's
throughput that survives HTTP, JSON and the server.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eval.bench.common import BenchResult, Figure, ratio, sqlite_store
from eval.bench.loadgen import push_bodies
from eval.bench.server import BENCH_KEY, load, running_server
from ingestion.kairos_push import parse_push, store_push
from ingestion.pipeline import Pipeline
from ingestion.push import validate_points

logger = logging.getLogger(__name__)

NAME = "http_push"
TARGET_POINTS_S = 50_000.0


@dataclass(frozen=True)
class PushSizes:
    """Clients, channels per client, points per channel per push, pushes per client."""

    clients: int = 4
    channels: int = 5
    points: int = 200
    warm_requests: int = 3
    requests: int = 4
    routes: tuple[str, ...] = ("ingest", "kairos")

    @property
    def measured_points(self) -> int:
        """Points sent in the timed phase."""
        return self.clients * self.channels * self.points * self.requests


def run(sizes: PushSizes = PushSizes()) -> BenchResult:
    """Push over HTTP, then in-process, and compare points per second."""
    result = BenchResult(
        NAME, "HTTP push throughput (loopback, load generator in its own process)"
    )
    result.sizes = {
        "clients": sizes.clients,
        "channels": sizes.clients * sizes.channels,
        "points per push": sizes.channels * sizes.points,
        "timed points per route": sizes.measured_points,
        "warm-up pushes per client (past the detectors' warm-up)": sizes.warm_requests,
    }
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imon-bench-push-") as tmp:
        folder = Path(tmp)
        http = _over_http(folder / "server", sizes)
        for route in sizes.routes:
            local = _in_process(folder, route, sizes)
            _add(result, route, http[route], local)
    result.notes.append(
        "Every pushed point is stored and goes through every streaming detector "
        "(vector index off); the server process had the machine's cores shared "
        "with the load generator."
    )
    result.seconds = time.perf_counter() - begin
    return result


def _add(result: BenchResult, route: str, http: float, local: float) -> None:
    label = "POST /ingest" if route == "ingest" else "POST /api/v1/datapoints (KairosDB)"
    result.add(
        Figure(
            NAME,
            label,
            http,
            "points/s",
            "Pipeline.ingest in process, no HTTP",
            local,
            ratio(http, local),
            f">= {TARGET_POINTS_S:,.0f} points/s",
            http >= TARGET_POINTS_S,
        )
    )
    logger.info("%s: %.0f points/s over HTTP, %.0f in process", route, http, local)


def _over_http(home: Path, sizes: PushSizes) -> dict[str, float]:
    rates = {}
    with running_server(home, IMON_INDEX="false") as url:
        for route in sizes.routes:
            common = [
                "push",
                "--url",
                url,
                "--key",
                BENCH_KEY,
                "--route",
                route,
                "--satellite",
                f"PUSH-{route}",
                "--clients",
                str(sizes.clients),
                "--channels",
                str(sizes.channels),
                "--points",
                str(sizes.points),
            ]
            warm = load(*common, "--requests", str(sizes.warm_requests))
            timed = load(
                *common,
                "--requests",
                str(sizes.requests),
                "--first-request",
                str(sizes.warm_requests),
            )
            _check_statuses(route, warm["statuses"], timed["statuses"])
            rates[route] = timed["points"] / timed["seconds"]
    return rates


def _check_statuses(route: str, *answers: dict[str, int]) -> None:
    for statuses in answers:
        bad = {code: n for code, n in statuses.items() if not code.startswith("2")}
        if bad:
            raise RuntimeError(f"{route}: pushes answered {bad}")


def _in_process(folder: Path, route: str, sizes: PushSizes) -> float:
    engine = sqlite_store(folder, f"local-{route}.db")
    pipeline = Pipeline(engine)
    try:
        for client in range(sizes.clients):
            for body in _bodies(route, client, sizes, 0, sizes.warm_requests):
                _store(pipeline, route, body)
        timed = [
            _bodies(route, client, sizes, sizes.warm_requests, sizes.requests)
            for client in range(sizes.clients)
        ]
        begin = time.perf_counter()
        for bodies in timed:
            for body in bodies:
                _store(pipeline, route, body)
        seconds = time.perf_counter() - begin
    finally:
        engine.dispose()
    return sizes.measured_points / seconds


def _bodies(route: str, client: int, sizes: PushSizes, first: int, count: int) -> list[bytes]:
    return push_bodies(route, f"PUSH-{route}", client, sizes.channels, sizes.points, count, first)


def _store(pipeline: Pipeline, route: str, body: bytes) -> None:
    payload = json.loads(body)
    if route == "kairos":
        store_push(pipeline, parse_push(payload, default_satellite="PUSH-kairos"))
        return
    checked = validate_points(payload["points"])
    pipeline.ingest(payload["satellite"], checked.points, source="push")
