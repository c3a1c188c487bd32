"""The running service gives a trained channel its reference (known-normal history).

Training records the reference (range, vouched or not, stretches left out); the
pipeline hands its points to the channel's detector, so the service finds what the
evaluation harness finds with the train split as reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from agent.context import ToolContext
from agent.planner import plan
from app.cli import cli
from app.main import create_app
from app.settings import Settings
from eval.project import run_project
from eval.tasks import EvalSeries, iter_eval_series
from ingestion.pipeline import Pipeline, channel_by_name
from ingestion.training import check_normal_range, model_references, train_channels
from store import channel_models
from store.db import database_url, make_engine, migrate
from store.models import Anomaly
from tests.auth_helpers import AUTH_HEADERS

START = datetime(2026, 1, 5, tzinfo=UTC)
#: SMAP A-1: the service's default detectors flag nothing in its train split
SERIES = "SMAP/A-1"


def _frame(ts: pd.DatetimeIndex | pd.Series, values: np.ndarray, channel: str) -> pd.DataFrame:
    return pd.DataFrame({"ts": ts, "channel": channel, "value": values})


def _sine(n: int) -> pd.DataFrame:
    ts = pd.date_range(START, periods=n, freq="1min")
    values = np.sin(np.arange(n) * 2 * np.pi / 50)
    return _frame(ts, values, "wave")


def _anomaly(channel_id: int, ts: pd.DatetimeIndex, rows: tuple[int, int], status: str) -> Anomaly:
    return Anomaly(
        channel_id=channel_id,
        start=ts[rows[0]].to_pydatetime(),
        end=ts[rows[1]].to_pydatetime(),
        kind="spike",
        score=9.0,
        severity="high",
        detector="limits",
        status=status,
    )


def test_training_records_the_reference_without_anomalous_stretches(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    points = _sine(1000)
    Pipeline(sqlite_engine).ingest("SAT", points, detect=False)
    ts = pd.DatetimeIndex(points["ts"])
    with Session(sqlite_engine) as session:
        channel = channel_by_name(session, "SAT", "wave")
        assert channel is not None and channel.id is not None
        channel_id = channel.id
        session.add(_anomaly(channel_id, ts, (100, 149), "open"))
        session.add(_anomaly(channel_id, ts, (300, 349), "false_positive"))
        session.add(_anomaly(channel_id, ts, (900, 999), "confirmed"))  # outside the range
        session.commit()
    normal = (ts[0].to_pydatetime(), ts[799].to_pydatetime())

    plain = train_channels(sqlite_engine, tmp_path)[0]
    vouched = train_channels(sqlite_engine, tmp_path, normal_range=normal)[0]
    read = model_references(sqlite_engine)(channel_id)
    retrained = train_channels(sqlite_engine, tmp_path)[0]

    assert vouched.params is not None and plain.params is not None
    reference = vouched.params["reference"]
    assert reference["vouched"] is True
    assert reference["points"] == 750, "the open anomaly's 50 points are left out"
    assert reference["start"] == "2026-01-05T00:00:00Z"
    assert reference["end"] == "2026-01-05T13:19:00Z"
    assert reference["excluded"] == [["2026-01-05T01:40:00Z", "2026-01-05T02:29:00Z"]]
    assert vouched.quality is not None and vouched.quality["points"] == 800
    expected = np.delete(points["value"].to_numpy()[:800], np.arange(100, 150))
    assert read is not None and np.array_equal(read, expected)
    assert plain.params["reference"]["vouched"] is False
    assert plain.params["reference"]["points"] == 850, "both stored open anomalies left out"
    # a retraining without a range of its own keeps the range the operator vouched for
    assert retrained.params is not None and retrained.params["reference"] == reference


def test_a_bad_normal_range_is_refused_with_the_field_named() -> None:
    day = datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="reference_start=.* is not before reference_end"):
        check_normal_range(day, day - timedelta(hours=1))
    with pytest.raises(ValueError, match="reference_end is missing"):
        check_normal_range(day, None)
    with pytest.raises(ValueError, match="reference_start=.* has no timezone"):
        check_normal_range(day.replace(tzinfo=None), day)
    assert check_normal_range(None, None) is None


def test_a_channel_without_a_model_gets_no_reference(sqlite_engine: Engine) -> None:
    Pipeline(sqlite_engine).ingest("SAT", _sine(300), detect=False)
    with Session(sqlite_engine) as session:
        channel = channel_by_name(session, "SAT", "wave")
    assert channel is not None and channel.id is not None
    assert model_references(sqlite_engine)(channel.id) is None


@pytest.fixture(scope="module")
def series(shared_data: Path) -> EvalSeries:
    found = list(iter_eval_series(shared_data, ("smap",), series_ids={SERIES}))
    assert len(found) == 1
    return found[0]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


def _stamps(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(ns, utc=True))


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.isoformat().replace("+00:00", "Z")


def test_service_detects_with_the_reference_like_the_eval(
    client: TestClient, series: EvalSeries
) -> None:
    services: Any = client.app.state.services  # type: ignore[attr-defined]
    assert series.train is not None and series.train_ts_ns is not None
    train_ts, test_ts = _stamps(series.train_ts_ns), _stamps(series.ts_ns)
    pipeline = services.pipeline
    pipeline.ingest("SMAP", _frame(train_ts, series.train, "A-1"))
    with Session(services.engine) as session:
        channel = channel_by_name(session, "SMAP", "A-1")
        assert channel is not None and channel.id is not None
        in_train = session.exec(select(Anomaly).where(col(Anomaly.channel_id) == channel.id))
        assert in_train.all() == [], "premise: the train split raises no alarm"
    channel_id = channel.id

    trained = client.post(
        f"/channels/{channel_id}/model/train",
        params={
            "reference_start": _iso(train_ts.iloc[0]),
            "reference_end": _iso(train_ts.iloc[-1]),
        },
    )
    assert trained.status_code == 200, trained.text
    pipeline.ingest("SMAP", _frame(test_ts, series.values, "A-1"))
    shown = client.get(f"/channels/{channel_id}/model").json()
    expected = run_project(series)

    with Session(services.engine) as session:
        stored = session.exec(
            select(Anomaly)
            .where(col(Anomaly.channel_id) == channel_id)
            .order_by(col(Anomaly.start))
        ).all()
    rows = [
        (int(np.searchsorted(series.ts_ns, pd.Timestamp(a.start).value)), a.detector)
        for a in stored
    ]
    assert expected.events, "the eval's reference run finds the labelled anomaly"
    assert [r for r, _ in rows] == [e.start for e in expected.events]
    assert {d for _, d in rows} == {"reference"}
    overlaps = [
        e for e in expected.events for a, b in series.labels if e.start <= b and a <= e.end
    ]
    assert overlaps, "and it overlaps the labelled window"

    reference = shown["reference"]
    assert reference["start"] == _iso(train_ts.iloc[0])
    assert reference["end"] == _iso(train_ts.iloc[-1])
    assert reference["vouched"] is True and reference["points"] == series.train.size
    assert shown["training_start"] == reference["start"]


def test_assistant_says_what_the_channel_is_compared_with(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    points = _sine(1000)
    Pipeline(sqlite_engine).ingest("SAT", points, detect=False)
    ts = pd.DatetimeIndex(points["ts"])
    ctx = ToolContext(engine=sqlite_engine, now=lambda: START + timedelta(days=1))

    untrained = plan(ctx, "how is the wave channel configured?").result.answer
    train_channels(
        sqlite_engine, tmp_path, normal_range=(ts[0].to_pydatetime(), ts[-1].to_pydatetime())
    )
    trained = plan(ctx, "how is the wave channel configured?").result.answer

    assert "no trained model yet" in untrained and "Reference" not in untrained
    assert (
        "Reference: 1000 points from 2026-01-05T00:00:00Z to 2026-01-05T16:39:00Z, a period "
        "an operator vouched for as normal" in trained
    )


def test_imon_train_takes_the_normal_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url(tmp_path, None))
    migrate(engine)
    Pipeline(engine).ingest("SAT", _sine(600), detect=False)
    monkeypatch.setenv("IMON_HOME", str(tmp_path))
    monkeypatch.setenv("IMON_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("IMON_INDEX", "0")

    bad = CliRunner().invoke(cli, ["train", "--reference-start", "yesterday"])
    half = CliRunner().invoke(cli, ["train", "--reference-start", "2026-01-05T00:00:00Z"])
    good = CliRunner().invoke(
        cli,
        [
            "train",
            "--reference-start",
            "2026-01-05T00:00:00Z",
            "--reference-end",
            "2026-01-05T04:59:00+00:00",
        ],
    )

    assert bad.exit_code == 2 and "reference_start='yesterday' is not an ISO 8601" in bad.output
    assert half.exit_code == 2 and "reference_end is missing" in half.output
    assert good.exit_code == 0, good.output
    with Session(engine) as session:
        channel = channel_by_name(session, "SAT", "wave")
        assert channel is not None and channel.id is not None
        reference = channel_models.reference_of(channel_models.active_model(session, channel.id))
    assert reference is not None and reference["points"] == 300 and reference["vouched"]
    assert "reference of 300 points" in good.output and "(vouched for as normal)" in good.output
    engine.dispose()


def test_train_endpoint_takes_the_normal_range_and_refuses_a_bad_one(client: TestClient) -> None:
    services: Any = client.app.state.services  # type: ignore[attr-defined]
    services.pipeline.ingest("SAT", _sine(600), detect=False)

    half = client.post("/models/train", params={"reference_end": "2026-01-05T01:00:00Z"})
    naive = client.post(
        "/models/train",
        params={"reference_start": "2026-01-05T00:00:00", "reference_end": "2026-01-05T01:00:00"},
    )
    empty = client.post(
        "/models/train",
        params={
            "reference_start": "2025-01-01T00:00:00Z",
            "reference_end": "2025-01-02T00:00:00Z",
        },
    )
    good = client.post(
        "/models/train",
        params={
            "satellite": "SAT",
            "reference_start": "2026-01-05T01:00:00Z",
            "reference_end": "2026-01-05T05:59:00Z",
        },
    )

    assert half.status_code == 422 and "reference_start is missing" in half.json()["detail"]
    assert naive.status_code == 422 and "has no timezone" in naive.json()["detail"]
    assert empty.status_code == 200 and empty.json()["trained"] == 0
    assert "no stored points between" in empty.json()["results"][0]["error"]
    assert good.status_code == 200, good.text
    reference = good.json()["results"][0]["params"]["reference"]
    assert reference["vouched"] is True and reference["points"] == 300
    assert reference["start"] == "2026-01-05T01:00:00Z"
