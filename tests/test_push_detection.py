"""Pushes detected by the background stage: same anomalies as inline, nothing lost or
counted twice, caught up after a crash between store and detect, lag shown in /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.main import create_app
from app.settings import Settings
from ingestion.detection_marks import (
    DETECTED_SOURCE,
    QUEUED_SOURCE,
    RECHECK_FROM,
    owed_channels,
)
from ingestion.detection_stage import DetectionStage
from ingestion.pipeline import Pipeline, StoredChannel
from store import repository
from store.models import Anomaly, Channel, Checkpoint
from tests.auth_helpers import AUTH_HEADERS

T0 = datetime(2024, 5, 1, tzinfo=UTC)
N = 1500
CHUNK = 250


def _frame(seed: int = 3) -> pd.DataFrame:
    """Minute samples of a daily sine with noise, three spikes and a level shift."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(N)
    values = 2 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 0.3, N)
    for at in (500, 900, 1200):
        values[at] += 15.0
    values[1300:] += 6.0
    ts = pd.to_datetime([T0 + timedelta(minutes=int(m)) for m in minutes], utc=True)
    return pd.DataFrame({"ts": ts, "channel": "temp", "value": values})


def _anomaly_keys(engine: Engine) -> list[tuple[str, str, datetime, datetime, bool]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                col(Channel.name),
                col(Anomaly.detector),
                col(Anomaly.start),
                col(Anomaly.end),
                col(Anomaly.ongoing),
            ).join(Channel, col(Channel.id) == col(Anomaly.channel_id))
        ).all()
    return sorted(tuple(row) for row in rows)  # type: ignore[misc]


def _inline_reference(engine: Engine) -> list[tuple[str, str, datetime, datetime, bool]]:
    pipeline = Pipeline(engine)
    frame = _frame()
    for offset in range(0, N, CHUNK):
        pipeline.ingest("SAT", frame.iloc[offset : offset + CHUNK], source="push")
    return _anomaly_keys(engine)


@pytest.fixture
def reference(tmp_path: Path) -> list[tuple[str, str, datetime, datetime, bool]]:
    from store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate(engine)
    keys = _inline_reference(engine)
    engine.dispose()
    assert keys, "the reference data must have anomalies"
    return keys


def _checkpoint(engine: Engine, source: str, channel_id: int) -> datetime | None:
    with Session(engine) as session:
        return repository.get_checkpoint(session, source, str(channel_id))


def test_background_stage_finds_what_inline_detection_finds(
    engine: Engine, reference: list[tuple[str, str, datetime, datetime, bool]]
) -> None:
    pipeline = Pipeline(engine)
    stage = DetectionStage(pipeline)
    stage.start()
    try:
        frame = _frame()
        for offset in range(0, N, CHUNK):
            queue: list[StoredChannel] = []
            report = pipeline.ingest(
                "SAT", frame.iloc[offset : offset + CHUNK], detect=False, queue=queue
            )
            assert report.inserted == CHUNK and report.anomalies_new == 0
            stage.enqueue(queue)
        assert stage.wait_idle(300)
    finally:
        stage.stop()
    assert _anomaly_keys(engine) == reference
    channel_id = queue[0].channel_id
    assert _checkpoint(engine, DETECTED_SOURCE, channel_id) == frame["ts"].max()
    assert owed_channels(engine) == []


def test_points_stored_before_a_crash_are_detected_at_restart(
    engine: Engine, reference: list[tuple[str, str, datetime, datetime, bool]]
) -> None:
    frame = _frame()
    crashed = Pipeline(engine)
    for offset in range(0, 1000, CHUNK):  # detected, then the process dies ...
        crashed.ingest("SAT", frame.iloc[offset : offset + CHUNK], source="push")
    queue: list[StoredChannel] = []
    # ... after committing these pushes but before detecting them
    crashed.ingest("SAT", frame.iloc[1000:], source="push", detect=False, queue=queue)
    channel_id = queue[0].channel_id
    assert owed_channels(engine) == [channel_id]

    stage = DetectionStage(Pipeline(engine))  # a new process: its queue starts empty
    stage.start()
    try:
        assert stage.wait_idle(300)
    finally:
        stage.stop()
    assert _anomaly_keys(engine) == reference
    assert owed_channels(engine) == []
    assert _checkpoint(engine, DETECTED_SOURCE, channel_id) == _checkpoint(
        engine, QUEUED_SOURCE, channel_id
    )


def test_late_points_are_rechecked_and_their_mark_cleared(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    frame = _frame()
    pipeline = Pipeline(engine)
    pipeline.ingest("SAT", frame.drop(index=[700, 701]), source="push")
    queue: list[StoredChannel] = []
    late = frame.loc[[700, 701]].copy()
    late["value"] = late["value"] + np.array([0.0, 20.0])  # a late spike, already passed
    pipeline.ingest("SAT", late, source="push", detect=False, queue=queue)
    channel_id = queue[0].channel_id
    with Session(engine) as session:
        assert session.get(Checkpoint, (RECHECK_FROM, str(channel_id))) is not None
    assert owed_channels(engine) == [channel_id]

    stage = DetectionStage(pipeline)
    stage.start()
    stage.enqueue(queue)
    try:
        assert stage.wait_idle(300)
    finally:
        stage.stop()
    with Session(engine) as session:
        assert session.get(Checkpoint, (RECHECK_FROM, str(channel_id))) is None
        found = session.scalars(select(Anomaly).where(col(Anomaly.channel_id) == channel_id)).all()
    late_ts = pd.Timestamp(frame.loc[701, "ts"]).to_pydatetime()
    assert any(a.start <= late_ts <= a.end for a in found), "the late spike must be found"
    assert owed_channels(engine) == []


@pytest.fixture
def background_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        home=tmp_path,
        worker=False,
        simulator=False,
        index=False,
        notify_dispatch=False,
        push_detection="background",
    )
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as client:
        yield client


def _body(frame: pd.DataFrame) -> dict[str, object]:
    return {
        "satellite": "SAT",
        "points": [
            {"channel": c, "ts": t.isoformat(), "value": float(v)}
            for t, c, v in zip(frame["ts"], frame["channel"], frame["value"], strict=True)
        ]
        + [{"channel": "temp", "ts": "2024-05-01T00:00:00", "value": 1.0}],
    }


def test_ingest_answers_queued_then_detects_and_wait_detects_first(
    background_client: TestClient,
) -> None:
    client = background_client
    frame = _frame()
    answer = client.post("/ingest", json=_body(frame.iloc[:1000]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["detection"] == "queued"
    assert body["anomalies_new"] is None and body["anomalies_updated"] is None
    assert body["inserted"] == 1000 and body["rejected"] == 1
    assert body["errors"][0]["field"] == "points[1000].ts"  # validation is unchanged

    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.detection.wait_idle(300)
    metrics = client.get("/metrics").text
    assert "imon_detection_queue_channels 0.0" in metrics
    assert "imon_detection_max_lag_seconds 0.0" in metrics
    listed = client.get("/anomalies", params={"satellite": "SAT", "limit": 100}).json()
    assert listed["total"] > 0, "the background stage stores the anomalies"

    waited = client.post("/ingest", params={"wait": "true"}, json=_body(frame.iloc[1000:]))
    assert waited.status_code == 200
    assert waited.json()["detection"] == "done"
    assert isinstance(waited.json()["anomalies_new"], int)
    assert waited.json()["anomalies_new"] > 0  # the level shift at minute 1300


def test_metrics_show_the_lag_of_channels_waiting_for_detection(
    background_client: TestClient,
) -> None:
    client = background_client
    services = client.app.state.services  # type: ignore[attr-defined]
    services.detection.stop()  # detection falls behind: pushes still succeed
    frame = _frame()
    for offset in (0, 500):
        answer = client.post("/ingest", json=_body(frame.iloc[offset : offset + 500]))
        assert answer.status_code == 200 and answer.json()["detection"] == "queued"
    metrics = client.get("/metrics").text
    lag_lines = [line for line in metrics.splitlines() if line.startswith("imon_detection_lag")]
    assert lag_lines and float(lag_lines[0].split()[-1]) == pytest.approx(999 * 60.0)
    assert "imon_detection_queue_channels 1.0" in metrics
