"""Polling KairosDB: query bodies, retries, timeouts, bad values, chunks, checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ingestion.errors import KairosDBQueryError, KairosDBUnavailableError
from ingestion.kairosdb import KairosDBClient, KairosDBSource
from ingestion.pipeline import Pipeline
from ingestion.sources import parse_sources
from ingestion.worker import Worker
from store import queries
from store.models import Checkpoint, Point
from tests.kairos_fake import FakeKairosDB, serve

T0 = datetime(2024, 5, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MINUTE_MS = 60_000


def _config(url: str, **extra: Any) -> Any:
    entry = {
        "type": "kairosdb",
        "name": extra.pop("name", "sky"),
        "url": url,
        "metrics": extra.pop("metrics", ["SCH.M1"]),
        "tags": extra.pop("tags", {"satellite": "SAT2"}),
        "start": T0,
        "chunk_hours": 1,
        "overlap_s": 600,
        "timeout_s": 2,
        "retries": 3,
        "backoff_s": 0.01,
        "backoff_max_s": 0.05,
    }
    entry.update(extra)
    return parse_sources({"sources": [entry]})[0]


def _minutes(start_min: int, stop_min: int, value: float = 1.0) -> list[tuple[int, Any]]:
    return [(T0_MS + m * MINUTE_MS, value + m % 7) for m in range(start_min, stop_min)]


@pytest.fixture
def fake() -> FakeKairosDB:
    return FakeKairosDB()


@pytest.fixture
def url(fake: FakeKairosDB) -> Iterator[str]:
    with serve(fake) as base:
        yield base


def _all(source: KairosDBSource, now: datetime, checkpoints: dict | None = None) -> list:
    return list(source.poll_from(checkpoints or {}, now))


def test_tags_with_spaces_colons_and_parentheses_go_in_the_json_body() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"queries": [{"results": [{"values": [[T0_MS, 2.5]]}]}]})

    tags = {"satellite": "SAT 2", "unit": "deg C: (main)", "mode": "a,b"}
    config = _config("http://kairos.invalid", tags=tags)
    client = KairosDBClient(config.url, transport=httpx.MockTransport(handler))
    source = KairosDBSource(config, client)

    batches = _all(source, T0 + timedelta(minutes=30))

    assert seen[0]["metrics"] == [
        {
            "name": "SCH.M1",
            "tags": {"mode": ["a,b"], "satellite": ["SAT 2"], "unit": ["deg C: (main)"]},
        }
    ]
    assert seen[0]["start_absolute"] == T0_MS
    assert seen[0]["end_absolute"] == T0_MS + 30 * MINUTE_MS
    assert batches[0].satellite == "SAT 2"
    assert batches[0].points["channel"].tolist() == ['SCH.M1{mode="a,b",unit=deg C: (main)}']


def test_chunks_cover_the_range_contiguously(fake: FakeKairosDB, url: str) -> None:
    fake.add("SCH.M1", {"satellite": "SAT2"}, _minutes(0, 210))
    source = KairosDBSource(_config(url))

    batches = _all(source, T0 + timedelta(minutes=210))

    ranges = [(q["start_absolute"], q["end_absolute"]) for q in fake.queries]
    assert len(ranges) == 4
    assert ranges[0][0] == T0_MS and ranges[-1][1] == T0_MS + 210 * MINUTE_MS
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))
    assert sum(len(b.points) for b in batches) == 210


def test_500_then_recovery_is_retried(fake: FakeKairosDB, url: str) -> None:
    fake.add("SCH.M1", {"satellite": "SAT2"}, _minutes(0, 30))
    fake.fail_with = [(500, "Cassandra timeout"), (503, "busy")]
    source = KairosDBSource(_config(url))

    batches = _all(source, T0 + timedelta(minutes=30))

    assert fake.requests == 3
    assert len(batches[0].points) == 30


def test_slow_reply_times_out_and_is_retried(fake: FakeKairosDB, url: str) -> None:
    fake.add("SCH.M1", {"satellite": "SAT2"}, _minutes(0, 30))
    fake.delays_s = [1.5]
    source = KairosDBSource(_config(url, timeout_s=0.3))

    started = time.monotonic()
    batches = _all(source, T0 + timedelta(minutes=30))

    assert fake.requests == 2
    assert len(batches[0].points) == 30
    assert time.monotonic() - started < 1.5 + 1.0


def test_persistent_500_raises_unavailable_with_the_server_message(
    fake: FakeKairosDB, url: str
) -> None:
    fake.fail_with = [(500, "Cassandra timeout")] * 10
    source = KairosDBSource(_config(url, retries=2))

    with pytest.raises(KairosDBUnavailableError, match="500: Cassandra timeout"):
        _all(source, T0 + timedelta(minutes=30))
    assert fake.requests == 3


def test_400_raises_a_typed_error_carrying_the_server_message(
    fake: FakeKairosDB, url: str
) -> None:
    fake.fail_with = [(400, "metrics[0].name may not be empty")]
    source = KairosDBSource(_config(url))

    with pytest.raises(KairosDBQueryError) as caught:
        _all(source, T0 + timedelta(minutes=30))
    assert caught.value.status == 400
    assert caught.value.messages == ["metrics[0].name may not be empty"]
    assert fake.requests == 1, "a 4xx is not retried"


def test_nan_infinity_and_non_numbers_are_rejected_and_counted(
    fake: FakeKairosDB, url: str
) -> None:
    points = [
        (T0_MS, 1.0),
        (T0_MS + 1000, math.nan),
        (T0_MS + 2000, math.inf),
        (T0_MS + 3000, "abc"),
        (T0_MS + 4000, None),
        (T0_MS + 5000, "2.5"),
        (T0_MS + 6000, -math.inf),
    ]
    fake.add("SCH.M1", {"satellite": "SAT2"}, points)
    source = KairosDBSource(_config(url))

    batches = _all(source, T0 + timedelta(minutes=30))

    assert batches[0].points["value"].tolist() == [1.0, 2.5]
    assert batches[0].rejected == 5


@pytest.mark.parametrize(
    "answer",
    [
        '{"queries": [{"sample_size": 0, "results": [{"name": "M", "tags": {}, "values": []}]}]}',
        '{"queries": [{"results": []}]}',
        '{"queries": [{"results": [{"name": "SCH.M1"}]}]}',
    ],
    ids=["empty-group", "no-results", "result-without-values"],
)
def test_empty_or_partial_answers_give_empty_batches(
    fake: FakeKairosDB, url: str, answer: str
) -> None:
    fake.raw_answer = answer
    source = KairosDBSource(_config(url))

    batches = _all(source, T0 + timedelta(minutes=30))

    assert len(batches) == 1 and batches[0].points.empty and batches[0].rejected == 0


def test_metric_globs_are_expanded_through_metricnames(fake: FakeKairosDB, url: str) -> None:
    for metric in ("SCH.M1", "SCH.M15", "AOCS.W1"):
        fake.add(metric, {"satellite": "SAT2"}, _minutes(0, 5))
    source = KairosDBSource(_config(url, metrics=["SCH.*"]))

    batches = _all(source, T0 + timedelta(minutes=5))

    assert sorted(q["metrics"][0]["name"] for q in fake.queries) == ["SCH.M1", "SCH.M15"]
    assert sorted(b.points["channel"].iloc[0] for b in batches) == ["SCH.M1", "SCH.M15"]


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Point)) or 0


def test_second_poll_starts_at_checkpoint_minus_overlap_without_duplicates(
    engine: Engine, fake: FakeKairosDB, url: str
) -> None:
    fake.add("SCH.M1", {"satellite": "SAT2", "unit": "V"}, _minutes(0, 121))
    fake.add("SCH.M1", {"satellite": "SAT1", "unit": "V"}, _minutes(0, 121, 50.0))
    source = KairosDBSource(_config(url, tags={"satellite": "SAT2", "unit": "V"}))
    now = [T0 + timedelta(minutes=120)]
    worker = Worker(Pipeline(engine), [source], clock=lambda: now[0])

    worker.run_once()
    with Session(engine) as session:
        checkpoint = session.get(Checkpoint, ("sky", "SAT2/SCH.M1{unit=V}"))
    # a late point inside the overlap, one before it, and an hour of new points
    fake.add(
        "SCH.M1", {"satellite": "SAT2", "unit": "V"}, [(T0_MS + 115 * MINUTE_MS + 30_000, 9.0)]
    )
    fake.add(
        "SCH.M1", {"satellite": "SAT2", "unit": "V"}, [(T0_MS + 60 * MINUTE_MS + 30_000, 9.0)]
    )
    fake.add("SCH.M1", {"satellite": "SAT2", "unit": "V"}, _minutes(121, 181))
    fake.queries.clear()
    now[0] = T0 + timedelta(minutes=180)
    Worker(Pipeline(engine), [KairosDBSource(source.config)], clock=lambda: now[0]).run_once()

    assert checkpoint is not None and checkpoint.last_ts == T0 + timedelta(minutes=120)
    assert fake.queries[0]["start_absolute"] == T0_MS + 120 * MINUTE_MS + 1 - 600_000
    assert _stored(engine) == 121 + 1 + 60, "overlap re-reads are not duplicated"
    with Session(engine) as session:
        channels = queries.list_channels(session)
    assert [(c.satellite, c.name, c.points) for c in channels] == [("SAT2", "SCH.M1{unit=V}", 182)]
    assert worker.status["sky"].points == 121 and worker.status["sky"].rejected == 0


def test_one_failing_source_does_not_stop_another(
    engine: Engine, fake: FakeKairosDB, url: str
) -> None:
    fake.add("SCH.M1", {"satellite": "SAT2"}, _minutes(0, 30))
    broken = KairosDBSource(_config(url, name="broken", tags={"satellite": "SAT9"}, retries=0))
    good = KairosDBSource(_config(url, name="good"))
    fake.fail_with = [(400, "unknown tag satellite=SAT9")]
    worker = Worker(Pipeline(engine), [broken, good], clock=lambda: T0 + timedelta(minutes=30))

    worker.run_once()

    assert worker.status["broken"].errors == 1
    assert "unknown tag satellite=SAT9" in (worker.status["broken"].last_error or "")
    assert worker.status["good"].points == 30 and worker.status["good"].last_error is None
    assert worker.status["good"].lag_s(T0 + timedelta(minutes=30)) == 60.0
    assert _stored(engine) == 30


def test_each_source_runs_on_its_own_interval(
    sqlite_engine: Engine, fake: FakeKairosDB, url: str
) -> None:
    recent = datetime.now(UTC) - timedelta(minutes=5)
    fast = KairosDBSource(_config(url, name="fast", interval_s=0.05, start=recent))
    slow = KairosDBSource(_config(url, name="slow", interval_s=60, start=recent))
    worker = Worker(Pipeline(sqlite_engine), [fast, slow])

    worker.start()
    time.sleep(0.6)
    worker.stop()

    assert worker.status["fast"].polls >= 3
    assert worker.status["slow"].polls == 1


def test_overlap_re_reads_are_not_detected_again(sqlite_engine: Engine) -> None:
    rng = np.random.default_rng(5)
    values = 10.0 + rng.normal(0, 0.1, 1500)
    values[1400] += 8.0
    ts = pd.date_range(T0, periods=1500, freq="10s")
    frame = pd.DataFrame({"ts": ts, "channel": "SCH.M1", "value": values})
    pipeline = Pipeline(sqlite_engine)
    first = pipeline.ingest("SAT2", frame, source="sky")

    again = pipeline.ingest("SAT2", frame.iloc[1380:], source="sky")

    assert first.anomalies_new >= 1
    assert again.unchanged == 120 and again.inserted == 0
    assert again.anomalies_new == 0 and again.anomalies_updated == 0
