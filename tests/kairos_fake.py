"""A fake KairosDB server on 127.0.0.1 for tests, with failures on demand.

It implements what the source uses: `POST /api/v1/datapoints/query` (filter by metric
name and tags, inclusive time range, every matching series merged into one result as
KairosDB does without group_by) and `GET /api/v1/metricnames`. It can answer with
given statuses first (500 then recover, 400 with a message), reply slowly, and serve
NaN/Infinity literals, since its JSON is written with `allow_nan=True`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class FakeSeries:
    metric: str
    tags: dict[str, str]
    points: list[tuple[int, Any]] = field(default_factory=list)


@dataclass
class FakeKairosDB:
    """State and behaviour of the fake; tests change it between polls."""

    series: list[FakeSeries] = field(default_factory=list)
    fail_with: list[tuple[int, str]] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    raw_answer: str | None = None

    def add(self, metric: str, tags: dict[str, str], points: list[tuple[int, Any]]) -> None:
        for item in self.series:
            if item.metric == metric and item.tags == tags:
                item.points = sorted(item.points + points)
                return
        self.series.append(FakeSeries(metric, dict(tags), sorted(points)))

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = body["start_absolute"], body.get("end_absolute", 2**62)
        queries = []
        for metric in body["metrics"]:
            wanted = metric.get("tags", {})
            matches = [
                s
                for s in self.series
                if s.metric == metric["name"]
                and all(
                    s.tags.get(k) in (v if isinstance(v, list) else [v]) for k, v in wanted.items()
                )
            ]
            values = sorted(p for s in matches for p in s.points if start <= p[0] <= end)
            tags: dict[str, set[str]] = {}
            for s in matches:
                for k, v in s.tags.items():
                    tags.setdefault(k, set()).add(v)
            queries.append(
                {
                    "sample_size": len(values),
                    "results": [
                        {
                            "name": metric["name"],
                            "group_by": [{"name": "type", "type": "number"}],
                            "tags": {k: sorted(v) for k, v in tags.items()},
                            "values": [list(p) for p in values],
                        }
                    ],
                }
            )
        return {"queries": queries}

    def app(self) -> Starlette:
        async def query(request: Request) -> Response:
            body = json.loads(await request.body())
            self.queries.append(body)
            return await self._respond(lambda: self.answer(body))

        async def metricnames(request: Request) -> Response:
            prefix = request.query_params.get("prefix", "")
            names = sorted({s.metric for s in self.series if s.metric.startswith(prefix)})
            return await self._respond(lambda: {"results": names})

        return Starlette(
            routes=[
                Route("/api/v1/datapoints/query", query, methods=["POST"]),
                Route("/api/v1/metricnames", metricnames, methods=["GET"]),
            ]
        )

    async def _respond(self, make: Any) -> Response:
        self.requests += 1
        if self.delays_s:
            await asyncio.sleep(self.delays_s.pop(0))
        if self.fail_with:
            status, message = self.fail_with.pop(0)
            return Response(
                json.dumps({"errors": [message]}), status, media_type="application/json"
            )
        text = (
            self.raw_answer if self.raw_answer is not None else json.dumps(make(), allow_nan=True)
        )
        return Response(text, 200, media_type="application/json")


@contextmanager
def serve(fake: FakeKairosDB) -> Iterator[str]:
    """Run the fake on 127.0.0.1 on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake KairosDB did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
