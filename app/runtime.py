"""Building the service's parts from the settings, once, at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from agent.context import ToolContext
from app.notifications.wiring import attach_incidents
from app.settings import Settings
from detection import DetectorConfig, enable_compile_cache
from ingestion.kairosdb import kairosdb_source
from ingestion.pipeline import Pipeline
from ingestion.sources import load_sources_file, resolve_sources_file
from ingestion.worker import Worker, simulator_source
from store.db import database_url, make_engine, migrate
from store.lock import WriterLock
from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder, KnowledgeIndex

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
    knowledge: KnowledgeIndex | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def tool_context(self) -> ToolContext:
        """What the agent tools need, with the real clock."""
        return ToolContext(
            engine=self.engine,
            index=self.index,
            knowledge=self.knowledge,
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
    configured = configured_sources(settings.sources_file) if with_worker else []
    enable_compile_cache()
    lock = WriterLock(home)
    lock.acquire()
    try:
        engine = make_engine(database_url(home, settings.database_url))
        migrate(engine)
        embedder = Embedder()
        index = AnomalyIndex(home / "chroma", embedder) if settings.index else None
        knowledge = KnowledgeIndex(home / "chroma", embedder) if settings.index else None
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
    services.knowledge = knowledge
    attach_incidents(services)
    if with_worker:
        sources: list[Any] = []
        if settings.simulator:
            sources.append(
                simulator_source(
                    seed=settings.simulator_seed,
                    satellite=settings.simulator_satellite,
                    cadence_s=settings.simulator_cadence_s,
                    backfill_hours=settings.simulator_backfill_hours,
                )
            )
        sources += configured
        services.worker = Worker(pipeline, sources, interval_s=settings.worker_interval_s)
    return services


def configured_sources(configured: Path | None) -> list[Any]:
    """The sources listed in the sources file, if there is one."""
    path = resolve_sources_file(configured)
    if path is None:
        return []
    configs = load_sources_file(path)
    logger.info("%d sources from %s", len(configs), path)
    return [kairosdb_source(config) for config in configs]


def _indexer(index: AnomalyIndex | None) -> Any:
    if index is None:
        return None

    def write(views: list[AnomalyView]) -> None:
        index.upsert(views)

    return write
