"""The Dagster definitions load and materialise in-process against SQLite and a fake server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from filelock import FileLock
from sqlmodel import Session

from ingestion.dagster_defs import (
    CONCURRENCY_KEY,
    PARTITION_TAG,
    TRAINING_POOL,
    TRAINING_TAG,
    build_definitions,
)
from ingestion.pipeline import Pipeline
from ingestion.sources import parse_sources
from ingestion.training import TRAINING_LOCK
from ingestion.worker import simulator_source
from store import channel_models, queries
from store.db import make_engine, migrate
from tests.kairos_fake import FakeKairosDB, serve

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def test_assets_materialise_per_partition_and_sensor_and_retention_run(tmp_path: Path) -> None:
    fake = FakeKairosDB()
    start_ms = int(START.timestamp() * 1000)
    for satellite in ("SAT1", "SAT2"):
        for metric in ("SCH.M1", "SCH.M15"):
            fake.add(
                metric,
                {"satellite": satellite},
                [(start_ms + i * 60_000, float(i % 7)) for i in range(60)],
            )
    db = f"sqlite:///{tmp_path / 'imon.db'}"
    engine = make_engine(db)
    migrate(engine)
    with serve(fake) as url:
        entry = {
            "type": "kairosdb",
            "name": "sky",
            "url": url,
            "metrics": ["SCH.M1", "SCH.M15"],
            "tags": {"satellite": ["SAT1", "SAT2"]},
            "start": START,
            "backoff_s": 0.01,
        }
        defs = build_definitions(db, parse_sources({"sources": [entry]}), retention_days=1)
        asset = defs.resolve_assets_def("telemetry")
        partitions = asset.partitions_def
        assert partitions is not None
        assert len(partitions.get_partition_keys()) == 4
        key = dg.MultiPartitionKey({"satellite": "SAT2", "group": "SCH.M15"})
        result = dg.materialize([asset], partition_key=key)
        assert result.success
        again = dg.materialize([asset], partition_key=key)

        with Session(engine) as session:
            channels = queries.list_channels(session)
            stored = queries.channel_points(session, channels[0].id)
        assert [(c.satellite, c.name) for c in channels] == [("SAT2", "SCH.M15")]
        assert len(stored) == 60
        metadata = result.asset_materializations_for_node("telemetry")[0].metadata
        assert metadata["points"].value == 60
        assert again.asset_materializations_for_node("telemetry")[0].metadata["points"].value == 0
        assert asset.op.pool == CONCURRENCY_KEY

        sensor = defs.resolve_sensor_def("new_data_sensor")
        with dg.instance_for_test() as instance:
            requests = list(sensor(dg.build_sensor_context(instance=instance, definitions=defs)))
        assert [r.partition_key for r in requests] == [key]
        assert requests[0].tags[PARTITION_TAG] == str(key)

        retention = defs.resolve_job_def("retention").execute_in_process()
        assert retention.success and retention.output_for_node("purge") == 0
    engine.dispose()


def test_training_job_trains_every_channel_one_run_at_a_time(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'imon.db'}"
    engine = make_engine(db)
    migrate(engine)
    source = simulator_source(seed=3, satellite="SIM-1", cadence_s=60, backfill_hours=6)
    for batch in source.poll(None, START):
        Pipeline(engine).ingest(batch.satellite, batch.points, detect=False)
    defs = build_definitions(db, [], home=tmp_path, training_cron="0 4 * * *")
    job = defs.resolve_job_def("training")

    result = job.execute_in_process()
    with FileLock(str(tmp_path / TRAINING_LOCK)):
        refused = job.execute_in_process(raise_on_error=False)

    assert result.success and result.output_for_node("train_models") == 4
    with Session(engine) as session:
        channels = queries.list_channels(session, "SIM-1")
        models = channel_models.active_models(session, [c.id for c in channels])
    assert sorted(m.version for m in models.values()) == [1, 1, 1, 1]
    assert not refused.success, "a run overlapping another training run must fail"
    assert job.tags[TRAINING_TAG] == "1"
    assert job.graph.node_named("train_models").definition.pool == TRAINING_POOL

    schedule = defs.resolve_schedule_def("training_schedule")
    assert schedule.cron_schedule == "0 4 * * *"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=START)
        first = schedule.evaluate_tick(context).run_requests
        instance.create_run_for_job(job_def=job)  # a queued run of the training job
        blocked = schedule.evaluate_tick(context)
    assert first is not None and len(first) == 1
    assert not blocked.run_requests and blocked.skip_message is not None
    assert "already queued or in progress" in blocked.skip_message
    engine.dispose()
