"""The Dagster definitions load and materialise in-process against SQLite and a fake server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from sqlmodel import Session

from ingestion.dagster_defs import CONCURRENCY_KEY, PARTITION_TAG, build_definitions
from ingestion.sources import parse_sources
from store import queries
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
