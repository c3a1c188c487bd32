"""Run the benchmarks in order and collect their results; one failure does not stop the rest."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from eval.bench import ask_latency, http_push, ingest, streaming, vector_search, worker_memory
from eval.bench.common import BenchResult

logger = logging.getLogger(__name__)

BENCHMARKS = ("streaming", "ingest", "http_push", "ask", "worker", "vector")


@dataclass(frozen=True)
class Sizes:
    """The sizes of every benchmark; the defaults are what `make bench` runs."""

    streaming: streaming.StreamingSizes = field(default_factory=streaming.StreamingSizes)
    ingest: ingest.IngestSizes = field(default_factory=ingest.IngestSizes)
    http_push: http_push.PushSizes = field(default_factory=http_push.PushSizes)
    ask: ask_latency.AskSizes = field(default_factory=ask_latency.AskSizes)
    worker: worker_memory.WorkerSizes = field(default_factory=worker_memory.WorkerSizes)
    vector: vector_search.VectorSizes = field(default_factory=vector_search.VectorSizes)


def _runs(sizes: Sizes) -> dict[str, Callable[[], BenchResult]]:
    return {
        "streaming": lambda: streaming.run(sizes.streaming),
        "ingest": lambda: ingest.run(sizes.ingest),
        "http_push": lambda: http_push.run(sizes.http_push),
        "ask": lambda: ask_latency.run(sizes.ask),
        "worker": lambda: worker_memory.run(sizes.worker),
        "vector": lambda: vector_search.run(sizes.vector),
    }


def run_all(only: list[str] | None = None, sizes: Sizes | None = None) -> list[BenchResult]:
    """Run the benchmarks named in ``only`` (all when None), in the fixed order."""
    chosen = list(BENCHMARKS) if not only else only
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    runs = _runs(sizes or Sizes())
    results = []
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        logger.info("benchmark %s starts", name)
        begin = time.perf_counter()
        try:
            result = runs[name]()
        except Exception as error:  # noqa: BLE001 - reported in BENCH.md, the others still run
            logger.error("benchmark %s failed: %s", name, error)
            result = BenchResult(name, name)
            result.notes.append(
                f"FAILED: {type(error).__name__}: {error}\n\n```\n"
                f"{traceback.format_exc(limit=4)}```"
            )
            result.seconds = time.perf_counter() - begin
        logger.info("benchmark %s took %.0f s", name, result.seconds)
        results.append(result)
    return results
