"""Benchmark 3: HTTP push throughput of `/ingest` and the KairosDB-compatible route.

`imon serve` runs in its own process on a free loopback port; the load generator
(:mod:`eval.bench.loadgen`) runs in another. Each push is validated and stored; with
``IMON_PUSH_DETECTION=background`` (the default) the service's detection stage detects
the points after the answer, and the time it takes to catch up after the last push is
reported; with ``inline`` (measured too, as the before) every push is detected inside
the request (the vector index is off so the embedding model does not load). Baseline:
the same pushes, decoded and validated, given to ``Pipeline.ingest`` in this process on
a fresh store, without HTTP, storing only (background) or storing and detecting
(inline): the ratio is the share of the pipeline's throughput that survives HTTP, JSON
and the server.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from eval.bench.common import BenchResult, Figure, ratio, sqlite_store
from eval.bench.loadgen import push_bodies
from eval.bench.server import BENCH_KEY, load, running_server
from ingestion.kairos_push import parse_push, store_push
from ingestion.pipeline import Pipeline, StoredChannel
from ingestion.push import validate_points

logger = logging.getLogger(__name__)

NAME = "http_push"
TARGET_POINTS_S = 50_000.0
#: longest wait for the background detection stage to catch up after the pushes
CATCH_UP_TIMEOUT_S = 900.0
MODES = ("background", "inline")


@dataclass(frozen=True)
class PushSizes:
    """Clients, channels per client, points per channel per push, pushes per client."""

    clients: int = 4
    channels: int = 5
    points: int = 400
    warm_requests: int = 3
    requests: int = 10
    routes: tuple[str, ...] = ("ingest", "kairos")
    #: detection modes of the server: background (the default) and inline (the before)
    modes: tuple[str, ...] = MODES
    #: timed pushes per client in inline mode (it runs at the detectors' speed)
    inline_requests: int = 4

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
        "timed points per route (background)": sizes.measured_points,
        "timed points per route (inline)": sizes.measured_points
        * sizes.inline_requests
        // sizes.requests,
        "warm-up pushes per client (past the detectors' warm-up)": sizes.warm_requests,
    }
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imon-bench-push-") as tmp:
        folder = Path(tmp)
        for mode in sizes.modes:
            timed = sizes.requests if mode == "background" else sizes.inline_requests
            http = _over_http(folder / f"server-{mode}", sizes, mode, timed, result)
            for route in sizes.routes:
                local = _in_process(folder, route, sizes, mode, timed)
                _add(result, route, mode, http[route], local)
    result.notes.append(
        "Every pushed point is stored and goes through every streaming detector "
        "(vector index off), after the answer (background) or before it (inline); the "
        "server process had the machine's cores shared with the load generator."
    )
    result.seconds = time.perf_counter() - begin
    return result


def _add(result: BenchResult, route: str, mode: str, http: float, local: float) -> None:
    label = "POST /ingest" if route == "ingest" else "POST /api/v1/datapoints (KairosDB)"
    background = mode == "background"
    label += ", detection in the background" if background else ", detection inline (before)"
    result.add(
        Figure(
            NAME,
            label,
            http,
            "points/s",
            "Pipeline.ingest in process, no HTTP"
            + (", store only" if background else ", store and detect"),
            local,
            ratio(http, local),
            f">= {TARGET_POINTS_S:,.0f} points/s",
            http >= TARGET_POINTS_S,
        )
    )
    logger.info("%s %s: %.0f points/s over HTTP, %.0f in process", route, mode, http, local)


def _over_http(
    home: Path, sizes: PushSizes, mode: str, timed_requests: int, result: BenchResult
) -> dict[str, float]:
    rates = {}
    with running_server(home, IMON_INDEX="false", IMON_PUSH_DETECTION=mode) as url:
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
            if mode == "background":
                _caught_up(url)
            timed = load(
                *common,
                "--requests",
                str(timed_requests),
                "--first-request",
                str(sizes.warm_requests),
            )
            _check_statuses(route, warm["statuses"], timed["statuses"])
            rates[route] = timed["points"] / timed["seconds"]
            if mode == "background":
                catch_up = _caught_up(url)
                total = timed["seconds"] + catch_up
                result.notes.append(
                    f"{route}, background: detection caught up {catch_up:.1f} s after the "
                    f"last push answered, so {timed['points']:,} points were stored and "
                    f"detected in {total:.1f} s ({timed['points'] / total:,.0f} points/s "
                    "detected, sustained)"
                )
    return rates


def _caught_up(url: str) -> float:
    """Seconds until /metrics shows no channel queued and no detection lag."""
    begin = time.perf_counter()
    headers = {"X-API-Key": BENCH_KEY}
    with httpx.Client(base_url=url, timeout=30.0, headers=headers) as http:
        while time.perf_counter() - begin < CATCH_UP_TIMEOUT_S:
            values = _gauges(http.get("/metrics").text)
            queued = values.get("imon_detection_queue_channels", 1.0)
            if queued == 0.0 and values.get("imon_detection_max_lag_seconds", 1.0) == 0.0:
                return time.perf_counter() - begin
            time.sleep(0.2)
    raise RuntimeError(f"background detection did not catch up in {CATCH_UP_TIMEOUT_S:.0f} s")


def _gauges(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


def _check_statuses(route: str, *answers: dict[str, int]) -> None:
    for statuses in answers:
        bad = {code: n for code, n in statuses.items() if not code.startswith("2")}
        if bad:
            raise RuntimeError(f"{route}: pushes answered {bad}")


def _in_process(
    folder: Path, route: str, sizes: PushSizes, mode: str, timed_requests: int
) -> float:
    engine = sqlite_store(folder, f"local-{route}-{mode}.db")
    pipeline = Pipeline(engine)
    detect = mode == "inline"
    try:
        for client in range(sizes.clients):
            for body in _bodies(route, client, sizes, 0, sizes.warm_requests):
                _store(pipeline, route, body, True)
        timed = [
            _bodies(route, client, sizes, sizes.warm_requests, timed_requests)
            for client in range(sizes.clients)
        ]
        begin = time.perf_counter()
        for bodies in timed:
            for body in bodies:
                _store(pipeline, route, body, detect)
        seconds = time.perf_counter() - begin
    finally:
        engine.dispose()
    return sizes.clients * sizes.channels * sizes.points * timed_requests / seconds


def _bodies(route: str, client: int, sizes: PushSizes, first: int, count: int) -> list[bytes]:
    return push_bodies(route, f"PUSH-{route}", client, sizes.channels, sizes.points, count, first)


def _store(pipeline: Pipeline, route: str, body: bytes, detect: bool) -> None:
    """What the route does with a push: store, and detect unless it is queued."""
    payload = json.loads(body)
    queue: list[StoredChannel] | None = None if detect else []
    if route == "kairos":
        parsed = parse_push(payload, default_satellite="PUSH-kairos")
        store_push(pipeline, parsed, queue=queue)
        return
    checked = validate_points(payload["points"])
    pipeline.ingest(
        payload["satellite"], checked.points, source="push", detect=detect, queue=queue
    )
