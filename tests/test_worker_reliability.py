"""Quiet feeds become gap anomalies; backfill re-reads a range; retention keeps anomalies."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app.cli import cli
from ingestion.backfill import backfill
from ingestion.kairosdb import KairosDBSource
from ingestion.pipeline import Pipeline
from ingestion.retention import purge_points
from ingestion.sources import parse_sources
from ingestion.worker import Batch, Worker
from store import queries
from store.models import Anomaly, Point
from store.repository import (
    AnomalyWrite,
    get_or_create_channel,
    get_or_create_satellite,
    upsert_anomalies,
)
from tests.kairos_fake import FakeKairosDB, serve

T0 = datetime(2024, 5, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ListSource:
    """Delivers the points it is given, once each, as a live source would."""

    name = "feed"
    interval_s = 60.0

    def __init__(self) -> None:
        self.pending: list[pd.DataFrame] = []

    def poll(self, since: datetime | None, now: datetime) -> list[Batch]:
        out = [Batch("SAT", frame) for frame in self.pending]
        self.pending = []
        return out


def _minutes(first: int, count: int) -> pd.DataFrame:
    ts = pd.date_range(T0 + timedelta(minutes=first), periods=count, freq="1min", tz="UTC")
    return pd.DataFrame({"ts": ts, "channel": "bus_v", "value": 28.0 + np.sin(np.arange(count))})


def _gaps(engine: Engine) -> list[Anomaly]:
    with Session(engine) as session:
        return list(session.scalars(select(Anomaly).where(col(Anomaly.kind) == "gap")).all())


def test_quiet_feed_opens_an_ongoing_gap_on_the_worker_clock_and_closes_when_data_returns(
    engine: Engine,
) -> None:
    clock = Clock(T0 + timedelta(minutes=30))
    source = ListSource()
    worker = Worker(Pipeline(engine), [source], clock=clock, gap_factor=5.0)
    source.pending = [_minutes(0, 30)]
    worker.run_once()
    assert _gaps(engine) == []

    # 5 cadences + the 60 s poll interval = 6 min of silence is still allowed
    clock.now = T0 + timedelta(minutes=29 + 6)
    worker.run_once()
    assert _gaps(engine) == []

    clock.now = T0 + timedelta(minutes=29 + 7)
    worker.run_once()
    clock.now = T0 + timedelta(minutes=29 + 20)
    worker.run_once()
    (gap,) = _gaps(engine)
    assert gap.ongoing is True and gap.detector == "gap"
    assert gap.start == T0 + timedelta(minutes=29)
    assert gap.end == T0 + timedelta(minutes=49)
    assert worker.status["feed"].anomalies == 1  # counted once, shown by /health and /metrics

    source.pending = [_minutes(55, 10)]
    clock.now = T0 + timedelta(minutes=65)
    worker.run_once()
    (gap,) = _gaps(engine)
    assert gap.ongoing is False
    assert gap.end == T0 + timedelta(minutes=55)
    assert gap.params["cadence_s"] == pytest.approx(60.0)


def _kairos_points(hours: int) -> list[tuple[int, float]]:
    start_ms = int(T0.timestamp() * 1000)
    return [(start_ms + i * 60_000, float(i % 17)) for i in range(hours * 60)]


def test_backfill_is_idempotent_and_counts_corrections(engine: Engine) -> None:
    fake = FakeKairosDB()
    points = _kairos_points(3)
    fake.add("SCH.M1", {"satellite": "SAT2"}, points)
    pipeline = Pipeline(engine)
    with serve(fake) as url:
        entry = {
            "type": "kairosdb",
            "name": "sky",
            "url": url,
            "metrics": ["SCH.M1"],
            "tags": {"satellite": "SAT2"},
            "chunk_hours": 1,
        }
        source = KairosDBSource(parse_sources({"sources": [entry]})[0])
        first = backfill(pipeline, source, T0, T0 + timedelta(hours=3))
        again = backfill(pipeline, source, T0, T0 + timedelta(hours=3))
        fake.series[0].points[10] = (points[10][0], 99.0)
        fixed = backfill(pipeline, source, T0, T0 + timedelta(minutes=30))
        source.close()

    assert (first.inserted, first.corrected, first.batches) == (
        180,
        0,
        4,
    )  # the end bound is inclusive: a 4th, empty chunk
    assert (again.inserted, again.corrected, again.unchanged) == (0, 0, 180)
    assert (fixed.inserted, fixed.corrected, fixed.unchanged) == (0, 1, 30)
    with Session(engine) as session:
        stored = queries.channel_points(session, queries.list_channels(session)[0].id)
    assert len(stored) == 180 and stored["value"].iloc[10] == 99.0
    with pytest.raises(ValueError, match="not after start"):
        backfill(pipeline, source, T0, T0)


def test_backfill_command_rejects_an_unknown_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[sources]]\ntype = "kairosdb"\nname = "sky"\nurl = "http://127.0.0.1:9"\n'
        'metrics = ["SCH.M1"]\ntags = { satellite = "SAT2" }\n'
    )
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMON_SOURCES_FILE", str(sources))
    result = CliRunner().invoke(
        cli,
        [
            "backfill",
            "--source",
            "nope",
            "--start",
            "2024-05-01T00:00:00Z",
            "--end",
            "2024-05-02T00:00:00Z",
        ],
    )
    assert result.exit_code == 2
    assert "'nope' is not in the sources file; known: sky" in result.output.replace("\n", "")


def test_backfill_command_reads_the_range_from_kairosdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeKairosDB()
    fake.add("SCH.M1", {"satellite": "SAT2"}, _kairos_points(2))
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMON_INDEX", "0")
    with serve(fake) as url:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[sources]]\ntype = "kairosdb"\nname = "sky"\nurl = "{url}"\n'
            'metrics = ["SCH.M1"]\ntags = { satellite = "SAT2" }\n'
        )
        monkeypatch.setenv("IMON_SOURCES_FILE", str(sources))
        args = [
            "backfill",
            "--source",
            "sky",
            "--start",
            "2024-05-01T00:00:00Z",
            "--end",
            "2024-05-01T01:00:00Z",
        ]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["inserted"] == 61 and report["corrected"] == 0


def test_retention_purges_old_points_but_keeps_anomalies_and_their_margin(
    engine: Engine,
) -> None:
    pipeline = Pipeline(engine)
    frame = _minutes(0, 3 * 24 * 60)
    pipeline.ingest("SAT", frame, detect=False)
    with Session(engine) as session:
        satellite = get_or_create_satellite(session, "SAT")
        channel = get_or_create_channel(session, satellite, "bus_v")
        assert channel.id is not None
        channel_id = channel.id
        start = T0 + timedelta(hours=12)
        upsert_anomalies(
            session,
            channel_id,
            [
                AnomalyWrite(
                    "limits", "spike", start, start + timedelta(minutes=10), 5.0, "high", False, {}
                )
            ],
        )
        session.commit()

    now = T0 + timedelta(days=3)
    assert purge_points(engine, now, 0, timedelta(hours=1)) == 0
    deleted = purge_points(engine, now, 1, timedelta(hours=1))

    with Session(engine) as session:
        stored = queries.channel_points(session, channel_id)
        anomalies = session.scalars(select(Anomaly)).all()
        total = len(session.scalars(select(Point)).all())
    cutoff = pd.Timestamp(now - timedelta(days=1))
    old = stored[stored["ts"] < cutoff]
    # only the anomaly's window with an hour on each side survives below the cutoff
    assert old["ts"].min() == pd.Timestamp(start - timedelta(hours=1))
    assert old["ts"].max() == pd.Timestamp(start + timedelta(minutes=70))
    assert len(old) == 131
    assert deleted == 2 * 24 * 60 - 131 and total == len(frame) - deleted
    assert len(anomalies) == 1


def test_worker_runs_retention_on_its_schedule_and_survives_a_failing_job(
    sqlite_engine: Engine,
) -> None:
    runs: list[datetime] = []

    def broken(now: datetime) -> None:
        raise OSError("disk full")

    clock = Clock(T0)
    worker = Worker(
        Pipeline(sqlite_engine),
        [ListSource()],
        clock=clock,
        maintenance=[broken, runs.append],
        maintenance_interval_s=0.05,
    )
    worker.start()
    deadline = time.monotonic() + 5
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert len(runs) >= 2 and runs[0] == T0
