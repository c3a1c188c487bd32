"""Scheduled and on-demand training: one run at a time, detection with the new version."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from detection import DetectorConfig
from ingestion.pipeline import Pipeline, channel_by_name
from ingestion.training import (
    ScheduledTraining,
    TrainingBusyError,
    model_configs,
    train_channels,
    training_lock,
)
from ingestion.worker import PeriodicJob, Worker, simulator_source
from store import channel_models
from store.db import database_url, make_engine, migrate
from store.keys import create_key
from tests.auth_helpers import AUTH_HEADERS
from tests.notify_fakes import free_port

#: The simulator's history ends here: 6 hours at one sample a minute.
END = datetime.now(UTC).replace(second=0, microsecond=0)


def _simulated(pipeline: Pipeline, since: datetime | None, end: datetime, detect: bool) -> None:
    """Simulator telemetry after `since` (6 hours before `end` when None) up to `end`."""
    source = simulator_source(seed=11, satellite="SIM-1", cadence_s=60, backfill_hours=6)
    for batch in source.poll(since, end):
        pipeline.ingest(batch.satellite, batch.points, detect=detect)


def _channel_id(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        found = channel_by_name(session, "SIM-1", name)
    assert found is not None and found.id is not None
    return found.id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'imon.db'}")
    migrate(engine)
    yield engine, tmp_path
    engine.dispose()


def test_scheduled_training_retrains_missing_and_stale_models_then_detects_with_them(
    store: tuple[Engine, Path],
) -> None:
    engine, home = store
    base = DetectorConfig()
    pipeline = Pipeline(engine, base, config_for=model_configs(engine, base))
    _simulated(pipeline, None, END, detect=True)
    bus = _channel_id(engine, "bus_voltage")
    before = pipeline._detectors[bus]
    assert before.config is base  # no model yet: the defaults
    job = ScheduledTraining(engine, home, timedelta(hours=1), on_trained=pipeline.forget_detectors)

    first = job(datetime.now(UTC))
    fresh = job(datetime.now(UTC))
    later = job(datetime.now(UTC) + timedelta(hours=2))
    _simulated(pipeline, END, END + timedelta(minutes=30), detect=True)

    assert sorted(r.version for r in first) == [1, 1, 1, 1]
    assert fresh == [], "models younger than the interval are not retrained"
    assert sorted(r.version for r in later) == [2, 2, 2, 2]
    with Session(engine) as session:
        model = channel_models.active_model(session, bus)
    assert model is not None and model.version == 2
    rebuilt = pipeline._detectors[bus]
    assert rebuilt is not before, "the detector was rebuilt after training"
    assert rebuilt.config.m == model.params["m"] and base.m != model.params["m"]
    assert rebuilt.last_timestamp_ns is not None, "the new detector saw the new points"


def test_a_second_training_run_in_the_same_process_is_refused(
    store: tuple[Engine, Path],
) -> None:
    engine, home = store
    _simulated(Pipeline(engine), None, END, detect=False)
    job = ScheduledTraining(engine, home, timedelta(hours=1))

    with training_lock(home):
        with pytest.raises(TrainingBusyError, match="already in progress in this process"):
            train_channels(engine, home)
        skipped = job(datetime.now(UTC))

    assert skipped == []
    assert len(train_channels(engine, home)) == 4, "the lock is free again afterwards"


def test_worker_runs_its_periodic_jobs_in_their_own_thread(
    store: tuple[Engine, Path],
) -> None:
    engine, _home = store
    calls: list[datetime] = []
    worker = Worker(Pipeline(engine), [], periodic=[PeriodicJob("training", 0.05, calls.append)])

    worker.start()
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()

    assert len(calls) >= 2 and all(c.tzinfo is not None for c in calls)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        services = test_client.app.state.services  # type: ignore[attr-defined]
        _simulated(services.pipeline, None, END, detect=False)
        yield test_client


def test_training_endpoints_are_admin_only_and_refuse_a_concurrent_run(
    client: TestClient, tmp_path: Path
) -> None:
    services: Any = client.app.state.services  # type: ignore[attr-defined]
    with Session(services.engine) as session:
        reader = create_key(session, "default", ["read", "ask"]).key
        session.commit()
    wheel = _channel_id(services.engine, "wheel_speed")

    one = client.post(f"/channels/{wheel}/model/train")
    denied = client.post("/models/train", headers={"X-API-Key": reader})
    unknown = client.post("/channels/99999/model/train")
    with training_lock(tmp_path):
        busy = client.post("/models/train")
    every = client.post("/models/train", params={"satellite": "SIM-1"})
    shown = client.get(f"/channels/{wheel}/model")

    assert one.status_code == 200, one.text
    assert [(r["channel"], r["version"]) for r in one.json()["results"]] == [("wheel_speed", 1)]
    assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    assert unknown.status_code == 404
    assert busy.status_code == 409 and "in progress" in busy.json()["detail"]
    assert every.status_code == 200 and every.json()["trained"] == 4
    assert shown.json()["version"] == 2


def test_imon_train_uses_the_running_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setenv("IMON_HOME", str(tmp_path))
    monkeypatch.setenv("IMON_URL", f"http://127.0.0.1:{port}")
    try:
        engine = app.state.services.engine
        _simulated(app.state.services.pipeline, None, END, detect=False)
        result = CliRunner().invoke(cli, ["train", "--channel", "bus_voltage"])
        with Session(engine) as session:
            model = channel_models.active_model(session, _channel_id(engine, "bus_voltage"))
    finally:
        server.should_exit = True
        thread.join(10)

    assert result.exit_code == 0, result.output
    assert "bus_voltage" in result.output and "wheel_speed" not in result.output
    assert model is not None and model.version == 1


def test_imon_train_without_a_service_trains_the_store_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url(tmp_path, None))
    migrate(engine)
    _simulated(Pipeline(engine), None, END, detect=False)
    monkeypatch.setenv("IMON_HOME", str(tmp_path))
    monkeypatch.setenv("IMON_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("IMON_INDEX", "0")

    result = CliRunner().invoke(cli, ["train", "--satellite", "SIM-1"])
    unknown = CliRunner().invoke(cli, ["train", "--satellite", "NOPE"])

    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        versions = channel_models.active_models(
            session, [_channel_id(engine, n) for n in ("bus_voltage", "wheel_speed")]
        )
    assert sorted(m.version for m in versions.values()) == [1, 1]
    assert unknown.exit_code == 1 and "no channel matched" in unknown.output
    engine.dispose()
