"""The worker with the simulator source: backfill, live polls, and /ask on the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent import ask
from agent.context import ToolContext
from ingestion.pipeline import Pipeline
from ingestion.simulator import TelemetrySimulator
from ingestion.worker import Batch, Worker, simulator_source
from store import queries

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FailingSource:
    name = "broken"

    def poll(self, since: datetime | None, now: datetime) -> list[Batch]:
        raise OSError("connection refused by 127.0.0.1:1")


def test_simulator_backfill_then_live_polls_store_each_point_once(
    sqlite_engine: Engine,
) -> None:
    clock = Clock(NOW)
    source = simulator_source(seed=7, satellite="SIM-1", cadence_s=10, backfill_hours=3)
    worker = Worker(Pipeline(sqlite_engine), [source, FailingSource()], clock=clock)

    worker.run_once()
    clock.now = NOW + timedelta(minutes=5)
    worker.run_once()
    worker.run_once()  # nothing new: adds nothing

    with Session(sqlite_engine) as session:
        channels = queries.list_channels(session, "SIM-1")
    expected = len(TelemetrySimulator(seed=7).generate(NOW - timedelta(hours=3), clock.now))
    assert sum(c.points for c in channels) == expected
    assert {c.name for c in channels} >= {"bus_voltage", "panel_temperature", "wheel_speed"}
    assert all(c.unit for c in channels)
    assert worker.status["broken"].last_error == "OSError: connection refused by 127.0.0.1:1"
    assert worker.status[source.name].last_error is None


def test_last_hour_question_cites_simulator_anomalies_with_their_stored_dates(
    sqlite_engine: Engine,
) -> None:
    clock = Clock(NOW)
    source = simulator_source(seed=7, satellite="SIM-1", cadence_s=10, backfill_hours=4)
    Worker(Pipeline(sqlite_engine), [source], clock=clock).run_once()
    context = ToolContext(engine=sqlite_engine, index=None, now=clock)

    result = ask(context, "which anomalies happened in the last hour?")

    assert result.anomalies, result.answer
    with Session(sqlite_engine) as session:
        for cited in result.anomalies:
            stored = queries.get_anomaly(session, cited.id)
            assert stored.end >= NOW - timedelta(hours=1)
            assert pd.Timestamp(cited.start) == pd.Timestamp(stored.start)
    assert "2026-03-02T11:00:00" in result.answer  # the resolved period is stated


def test_simulator_events_are_stored_as_context(sqlite_engine: Engine, tmp_path: Path) -> None:
    clock = Clock(NOW)
    source = simulator_source(seed=7, satellite="SIM-1", cadence_s=10, backfill_hours=3)
    Worker(Pipeline(sqlite_engine), [source], clock=clock).run_once()
    with Session(sqlite_engine) as session:
        satellite = queries.list_satellites(session)[0]
        assert satellite.id is not None
        events = queries.list_events(session, satellite.id, NOW - timedelta(hours=3), NOW)
    assert {e.kind for e in events} >= {"eclipse_entry", "eclipse_exit"}
