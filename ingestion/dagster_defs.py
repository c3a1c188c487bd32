"""Dagster definitions for scale-out: the same source, pipeline and retention functions.

Install with ``pip install .[dagster]``. Build them with :func:`build_definitions`
(nothing is created at import time); ``dagster dev -m ingestion.dagster_defs`` loads
:func:`defs`, configured from the ``IMON_*`` environment.

- asset ``telemetry``: polls one partition (satellite x metric group) of every
  configured KairosDB source through the pipeline, which stores and detects;
- a schedule polling every partition, a sensor requesting a run for a partition whose
  checkpoint moved (data pushed over HTTP), a ``retention`` job;
- runs carry ``imon/partition``; with the run queue's ``tag_concurrency_limits``
  (see docker-compose.yml) at most one detection run per partition runs at a time, and
  the asset's op runs in the pool ``imon_detect``;
- a ``training`` job (per-channel models, ``ingestion.training``) with its schedule:
  its runs carry ``imon/training`` (the run queue admits one at a time), its op runs in
  the pool ``imon_train`` (limit 1), the schedule skips while a training run is queued
  or in progress, and the training lock refuses a run that overlaps another anyway.
"""

import dataclasses
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster import (
    AssetExecutionContext,
    OpExecutionContext,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
)
from sqlmodel import Session, select

from ingestion.kairosdb import KairosDBSource
from ingestion.pipeline import Pipeline
from ingestion.retention import purge_points
from ingestion.sources import KairosDBSourceConfig, load_sources_file
from ingestion.training import TrainingBusyError, train_channels
from ingestion.worker import Worker
from store.db import make_engine, migrate
from store.models import Checkpoint

CONCURRENCY_KEY = "imon_detect"
PARTITION_TAG = "imon/partition"
TRAINING_POOL = "imon_train"
TRAINING_TAG = "imon/training"
#: Run states in which a training run blocks the next scheduled one.
_ACTIVE_RUN_STATES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def partition_keys(configs: list[KairosDBSourceConfig]) -> tuple[list[str], list[str]]:
    """Satellites and metric groups of the configured series."""
    satellites = sorted({c.satellite_of(s) for c in configs for s in c.series})
    groups = sorted({s.metric for c in configs for s in c.series})
    return satellites, groups


def _partition_sources(
    configs: list[KairosDBSourceConfig], satellite: str, group: str
) -> list[KairosDBSource]:
    sources = []
    for config in configs:
        series = tuple(
            s for s in config.series if s.metric == group and config.satellite_of(s) == satellite
        )
        if series:
            sources.append(KairosDBSource(dataclasses.replace(config, series=series)))
    return sources


def build_definitions(
    database_url: str,
    configs: list[KairosDBSourceConfig],
    *,
    retention_days: float = 0.0,
    retention_margin_s: float = 21600.0,
    poll_cron: str = "* * * * *",
    home: Path = Path("var"),
    training_cron: str = "23 3 * * *",
    training_max_age_hours: float = 0.0,
    models_kept: int = 5,
) -> dg.Definitions:
    """Dagster definitions over `configs`, writing the store at `database_url`.

    The training job keeps its lock file in `home`; it retrains the channels whose model
    is older than `training_max_age_hours` (every channel when 0).
    """
    satellites, groups = partition_keys(configs)
    partitions = dg.MultiPartitionsDefinition(
        {
            "satellite": dg.StaticPartitionsDefinition(satellites),
            "group": dg.StaticPartitionsDefinition(groups),
        }
    )

    @dg.asset(
        partitions_def=partitions,
        pool=CONCURRENCY_KEY,
        description="Poll a partition's series, store its points, detect and store anomalies.",
    )
    def telemetry(context: AssetExecutionContext) -> dg.MaterializeResult:
        key = context.partition_key
        assert isinstance(key, dg.MultiPartitionKey)
        satellite, group = key.keys_by_dimension["satellite"], key.keys_by_dimension["group"]
        engine = make_engine(database_url)
        migrate(engine)
        sources = _partition_sources(configs, satellite, group)
        worker = Worker(Pipeline(engine), list(sources))
        try:
            reports = worker.run_once()
        finally:
            worker.stop(0)
            engine.dispose()
        errors = [s.last_error for s in worker.status.values() if s.last_error]
        if errors:
            raise dg.Failure(description="; ".join(errors))
        return dg.MaterializeResult(
            metadata={
                "points": sum(r.inserted for r in reports),
                "corrected": sum(r.corrected for r in reports),
                "anomalies_new": sum(r.anomalies_new for r in reports),
            }
        )

    poll_job = dg.define_asset_job("poll", selection=[telemetry], partitions_def=partitions)

    @dg.schedule(job=poll_job, cron_schedule=poll_cron)
    def poll_schedule(context: ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        stamp = context.scheduled_execution_time.isoformat()
        for key in partitions.get_partition_keys():
            yield dg.RunRequest(
                run_key=f"{key}@{stamp}", partition_key=key, tags={PARTITION_TAG: key}
            )

    @dg.sensor(job=poll_job, minimum_interval_seconds=30)
    def new_data_sensor(context: SensorEvaluationContext) -> Iterator[dg.RunRequest]:
        seen: dict[str, str] = dict(_cursor(context.cursor))
        engine = make_engine(database_url)
        try:
            with Session(engine) as session:
                rows = session.scalars(select(Checkpoint)).all()
        finally:
            engine.dispose()
        moved = set()
        for row in rows:
            channel, stamp = row.channel, row.last_ts.isoformat()
            satellite, _, name = channel.partition("/")
            group = next((g for g in groups if name == g or name.startswith(g + "{")), None)
            if group is None or satellite not in satellites:
                continue
            if seen.get(channel, "") < stamp:
                seen[channel] = stamp
                moved.add(dg.MultiPartitionKey({"satellite": satellite, "group": group}))
        for key in sorted(moved, key=str):
            yield dg.RunRequest(run_key=None, partition_key=key, tags={PARTITION_TAG: str(key)})
        context.update_cursor(";".join(f"{k}={v}" for k, v in sorted(seen.items())))

    @dg.op
    def purge(context: OpExecutionContext) -> int:
        engine = make_engine(database_url)
        try:
            return purge_points(
                engine,
                datetime.now(UTC),
                retention_days,
                timedelta(seconds=retention_margin_s),
            )
        finally:
            engine.dispose()

    @dg.job(description="Purge raw points past IMON_RETENTION_DAYS, keeping anomaly windows.")
    def retention() -> None:
        purge()

    training = _training_job(database_url, home, training_max_age_hours, models_kept)

    @dg.schedule(job=training, cron_schedule=training_cron)
    def training_schedule(
        context: ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        active = context.instance.get_run_records(
            dg.RunsFilter(job_name=training.name, statuses=_ACTIVE_RUN_STATES), limit=1
        )
        if active:
            return dg.SkipReason("a training run is already queued or in progress")
        stamp = context.scheduled_execution_time.isoformat()
        return dg.RunRequest(run_key=f"training@{stamp}")

    return dg.Definitions(
        assets=[telemetry],
        jobs=[poll_job, retention, training],
        schedules=[
            poll_schedule,
            dg.ScheduleDefinition(job=retention, cron_schedule="17 * * * *"),
            training_schedule,
        ],
        sensors=[new_data_sensor],
    )


def _training_job(
    database_url: str, home: Path, max_age_hours: float, keep: int
) -> dg.JobDefinition:
    """The ``training`` job: one op in the pool ``imon_train``, runs tagged ``imon/training``."""

    @dg.op(pool=TRAINING_POOL)
    def train_models(context: OpExecutionContext) -> int:
        now = datetime.now(UTC)
        stale_before = now - timedelta(hours=max_age_hours) if max_age_hours > 0 else None
        engine = make_engine(database_url)
        try:
            migrate(engine)
            results = train_channels(engine, home.resolve(), stale_before=stale_before, keep=keep)
        except TrainingBusyError as error:
            raise dg.Failure(description=str(error)) from None
        finally:
            engine.dispose()
        trained = [r for r in results if r.version is not None]
        for result in results:
            if result.version is None:
                context.log.info(f"{result.satellite}/{result.channel}: {result.error}")
        context.log.info(f"{len(trained)} of {len(results)} channels trained")
        return len(trained)

    @dg.job(
        tags={TRAINING_TAG: "1"},
        description="Retrain per-channel models; one training run at a time.",
    )
    def training() -> None:
        train_models()

    return training


def _cursor(text: str | None) -> Iterator[tuple[str, str]]:
    for item in (text or "").split(";"):
        if "=" in item:
            key, _, value = item.rpartition("=")
            yield key, value


@dg.definitions
def defs() -> dg.Definitions:
    """Definitions from the environment, for `dagster dev -m ingestion.dagster_defs`."""
    env = dict(os.environ)
    sources = Path(env.get("IMON_SOURCES_FILE", "sources.toml"))
    return build_definitions(
        env.get("IMON_DATABASE_URL", f"sqlite:///{Path(env.get('IMON_HOME', 'var'))}/imon.db"),
        load_sources_file(sources) if sources.exists() else [],
        retention_days=float(env.get("IMON_RETENTION_DAYS", "0")),
        retention_margin_s=float(env.get("IMON_RETENTION_MARGIN_S", "21600")),
        home=Path(env.get("IMON_HOME", "var")),
        training_max_age_hours=float(env.get("IMON_RETRAIN_INTERVAL_HOURS", "0")),
        models_kept=int(env.get("IMON_MODEL_VERSIONS_KEPT", "5")),
    )
