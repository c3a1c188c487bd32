"""Building the service's parts from the settings, once, at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from agent.context import ToolContext
from app.settings import Settings
from detection import DetectorConfig, enable_compile_cache
from ingestion.pipeline import Pipeline
from ingestion.worker import Worker, simulator_source
from store.db import database_url, make_engine, migrate
from store.lock import WriterLock
from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder

logger = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    """Set up logging once for a server, worker or CLI process."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass
class Services:
    """The live parts of one writer process."""

    settings: Settings
    engine: Engine
    lock: WriterLock
    index: AnomalyIndex | None
    pipeline: Pipeline
    worker: Worker | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def tool_context(self) -> ToolContext:
        """What the agent tools need, with the real clock."""
        return ToolContext(
            engine=self.engine,
            index=self.index,
            detector_config=self.pipeline.config,
            now=lambda: datetime.now(UTC),
        )

    def close(self) -> None:
        """Stop the worker, release the lock, dispose of connections."""
        if self.worker is not None:
            self.worker.stop()
        self.engine.dispose()
        self.lock.release()


def build_services(settings: Settings, *, with_worker: bool = False) -> Services:
    """Open the store (taking the writer lock), the index and the pipeline."""
    home = settings.home.resolve()
    enable_compile_cache()
    lock = WriterLock(home)
    lock.acquire()
    try:
        engine = make_engine(database_url(home, settings.database_url))
        migrate(engine)
        index = AnomalyIndex(home / "chroma", Embedder()) if settings.index else None
        pipeline = Pipeline(
            engine,
            DetectorConfig(window=settings.detector_window),
            index_anomalies=_indexer(index),
        )
    except Exception:
        lock.release()
        raise
    services = Services(
        settings=settings, engine=engine, lock=lock, index=index, pipeline=pipeline
    )
    if with_worker:
        sources = []
        if settings.simulator:
            sources.append(
                simulator_source(
                    seed=settings.simulator_seed,
                    satellite=settings.simulator_satellite,
                    cadence_s=settings.simulator_cadence_s,
                    backfill_hours=settings.simulator_backfill_hours,
                )
            )
        services.worker = Worker(pipeline, sources, interval_s=settings.worker_interval_s)
    return services


def _indexer(index: AnomalyIndex | None) -> Any:
    if index is None:
        return None

    def write(views: list[AnomalyView]) -> None:
        index.upsert(views)

    return write
