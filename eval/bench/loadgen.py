"""Load generator run in its own process: `python -m eval.bench.loadgen push|ask ...`.

It prints one JSON object on stdout (the CLI of a benchmark tool, so `print` is the
output). Request bodies are serialised before the clock starts, so the generator's own
JSON encoding is not measured.

push: each of ``--clients`` threads owns its own channels and sends ``--requests``
pushes of ``--channels`` x ``--points`` points with increasing timestamps, so no point
arrives late. ask: ``--clients`` threads send the given questions in turn for
``--seconds`` seconds and report every latency.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

START_MS = 1_780_000_000_000
CADENCE_MS = 1_000
PERIOD_POINTS = 60


def push_bodies(
    route: str,
    satellite: str,
    client: int,
    channels: int,
    points: int,
    requests: int,
    first_request: int = 0,
) -> list[bytes]:
    """Serialised bodies of one client's pushes (its channels, consecutive time ranges)."""
    bodies = []
    for r in range(first_request, first_request + requests):
        series = []
        for c in range(channels):
            name = f"c{client:02d}_ch{c:03d}"
            rows = []
            for p in range(points):
                k = r * points + p
                value = 10.0 + math.sin(2 * math.pi * k / PERIOD_POINTS) + 0.01 * ((k * 7) % 13)
                rows.append((START_MS + k * CADENCE_MS, round(value, 6)))
            series.append((name, rows))
        if route == "kairos":
            payload: Any = [
                {"name": name, "tags": {"satellite": satellite}, "datapoints": rows}
                for name, rows in series
            ]
        else:
            payload = {
                "satellite": satellite,
                "points": [
                    {"channel": name, "ts": ms, "value": value}
                    for name, rows in series
                    for ms, value in rows
                ],
            }
        bodies.append(json.dumps(payload).encode())
    return bodies


def _push(args: argparse.Namespace) -> dict[str, Any]:
    path = "/api/v1/datapoints" if args.route == "kairos" else "/ingest"
    headers = {"X-API-Key": args.key, "Content-Type": "application/json"}
    bodies = [
        push_bodies(
            args.route,
            args.satellite,
            client,
            args.channels,
            args.points,
            args.requests,
            args.first_request,
        )
        for client in range(args.clients)
    ]
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def send(client: int) -> None:
        with httpx.Client(base_url=args.url, timeout=600.0) as http:
            for body in bodies[client]:
                answer = http.post(path, content=body, headers=headers)
                with lock:
                    key = str(answer.status_code)
                    statuses[key] = statuses.get(key, 0) + 1

    begin = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(send, range(args.clients)))
    seconds = time.perf_counter() - begin
    total = args.clients * args.requests * args.channels * args.points
    return {"points": total, "seconds": seconds, "statuses": statuses}


def _ask(args: argparse.Namespace) -> dict[str, Any]:
    questions = json.loads(args.questions)
    headers = {"X-API-Key": args.key}
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=args.url, timeout=120.0) as http:
            n = index
            while time.perf_counter() < deadline:
                question = questions[n % len(questions)]
                n += 1
                begin = time.perf_counter()
                answer = http.post(args.path, json={"question": question}, headers=headers)
                elapsed = time.perf_counter() - begin
                with lock:
                    latencies.append(elapsed)
                    key = str(answer.status_code)
                    statuses[key] = statuses.get(key, 0) + 1

    begin = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    return {"latencies": latencies, "seconds": time.perf_counter() - begin, "statuses": statuses}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the load, print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m eval.bench.loadgen")
    sub = parser.add_subparsers(dest="mode", required=True)
    push = sub.add_parser("push")
    push.add_argument("--url", required=True)
    push.add_argument("--key", required=True)
    push.add_argument("--route", choices=["ingest", "kairos"], required=True)
    push.add_argument("--satellite", default="PUSH-1")
    push.add_argument("--clients", type=int, default=4)
    push.add_argument("--channels", type=int, default=10)
    push.add_argument("--points", type=int, default=100)
    push.add_argument("--requests", type=int, default=10)
    push.add_argument("--first-request", type=int, default=0)
    ask = sub.add_parser("ask")
    ask.add_argument("--url", required=True)
    ask.add_argument("--key", required=True)
    ask.add_argument("--path", default="/ask")
    ask.add_argument("--clients", type=int, default=20)
    ask.add_argument("--seconds", type=float, default=30.0)
    ask.add_argument("--questions", required=True, help="JSON list of questions.")
    args = parser.parse_args(argv)
    result = _push(args) if args.mode == "push" else _ask(args)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
