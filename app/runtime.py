"""Building the service's parts from the settings, once, at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from agent.context import ToolContext
from app.notifications.wiring import attach_incidents
from app.settings import Settings
from detection import DetectorConfig, enable_compile_cache
from ingestion.detection_stage import DetectionStage
from ingestion.kairosdb import kairosdb_source
from ingestion.pipeline import Pipeline
from ingestion.retention import purge_points
from ingestion.sources import load_sources_file, resolve_sources_file
from ingestion.training import ScheduledTraining, model_configs, model_references
from ingestion.worker import PeriodicJob, Worker, simulator_source
from store.db import database_url, make_engine, migrate
from store.knowledge_index import KnowledgeIndex
from store.lock import WriterLock
from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder, index_by_tenant

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
    #: detects pushed points after the push answered (IMON_PUSH_DETECTION=background)
    detection: DetectionStage | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def tool_context(self, tenant: str) -> ToolContext:
        """What the agent tools need for `tenant` (they see its satellites only)."""
        return ToolContext(
            engine=self.engine,
            index=self.index,
            knowledge=self.knowledge.for_tenant(tenant) if self.knowledge else None,
            detector_config=self.pipeline.config,
            now=lambda: datetime.now(UTC),
            tenant=tenant,
        )

    def close(self) -> None:
        """Stop the worker and detection stage, release the lock, dispose of connections."""
        if self.worker is not None:
            self.worker.stop()
        if self.detection is not None:
            self.detection.stop()
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
        base_config = DetectorConfig(window=settings.detector_window)
        pipeline = Pipeline(
            engine,
            base_config,
            index_anomalies=_indexer(index, engine),
            config_for=model_configs(engine, base_config),
            reference_for=model_references(engine),
        )
    except Exception:
        lock.release()
        raise
    services = Services(
        settings=settings, engine=engine, lock=lock, index=index, pipeline=pipeline
    )
    services.knowledge = knowledge
    if settings.push_detection == "background":
        services.detection = DetectionStage(pipeline, settings.detection_queue_channels)
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
        services.worker = Worker(
            pipeline,
            sources,
            interval_s=settings.worker_interval_s,
            gap_factor=settings.gap_factor or None,
            maintenance=[_retention(engine, settings)] if settings.retention_days else [],
            maintenance_interval_s=settings.retention_interval_s,
            periodic=_training_jobs(settings, pipeline),
        )
    return services


#: Longest wait between two checks for models due for retraining, seconds.
TRAINING_CHECK_S = 3600.0


def _training_jobs(settings: Settings, pipeline: Pipeline) -> list[PeriodicJob]:
    """Scheduled retraining, when `retrain_interval_hours` is set."""
    if not settings.retrain_interval_hours:
        return []
    interval_s = settings.retrain_interval_hours * 3600.0
    job = ScheduledTraining(
        pipeline.engine,
        settings.home.resolve(),
        timedelta(seconds=interval_s),
        keep=settings.model_versions_kept,
        on_trained=pipeline.forget_detectors,
    )
    return [PeriodicJob("training", min(interval_s, TRAINING_CHECK_S), job)]


def configured_sources(configured: Path | None) -> list[Any]:
    """The sources listed in the sources file, if there is one."""
    path = resolve_sources_file(configured)
    if path is None:
        return []
    configs = load_sources_file(path)
    logger.info("%d sources from %s", len(configs), path)
    return [kairosdb_source(config) for config in configs]


def _retention(engine: Engine, settings: Settings) -> Callable[[datetime], int]:
    margin = timedelta(seconds=settings.retention_margin_s)

    def retention(now: datetime) -> int:
        return purge_points(engine, now, settings.retention_days, margin)

    return retention


def _indexer(index: AnomalyIndex | None, engine: Engine) -> Any:
    if index is None:
        return None

    def write(views: list[AnomalyView]) -> None:
        index_by_tenant(index, engine, views)

    return write
