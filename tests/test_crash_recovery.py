"""A worker killed with SIGKILL mid-poll loses nothing and duplicates nothing on restart.

The worker ingests and detects; the reference is an uninterrupted run on the same data.
Points are compared one by one, anomalies by their identity (channel, detector, start).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ingestion.pipeline import DETECTED_SOURCE
from store import queries
from store.db import make_engine, migrate
from store.models import Anomaly, Channel, Checkpoint
from tests.kairos_fake import FakeKairosDB, serve

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
HOURS = 48
STEP_MS = 60_000
#: the victim hangs (and is killed) after committing the points of the n-th chunk in which
#: it found anomalies, before committing those anomalies
HANG_AT_DETECTION = 1

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import UTC, datetime, timedelta
    from detection import enable_compile_cache
    from ingestion.kairosdb import KairosDBSource
    from ingestion.pipeline import Pipeline
    from ingestion.sources import parse_sources
    from ingestion.worker import Worker
    from store.db import make_engine

    url, db, hours, hang_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    enable_compile_cache()
    start = datetime(2024, 5, 1, tzinfo=UTC)
    entry = {"type": "kairosdb", "name": "sky", "url": url, "metrics": ["SCH.M1"],
             "tags": {"satellite": "SAT2"}, "start": start, "chunk_hours": 1,
             "overlap_s": 300, "backoff_s": 0.01}
    pipeline = Pipeline(make_engine(db))
    if hang_at:
        store, calls = pipeline.store_detected, []

        def hang_then_store(channel_id, detected, **kwargs):
            if detected:
                calls.append(1)
            if detected and len(calls) == hang_at:
                print("points committed, anomalies not", flush=True)
                time.sleep(600)
            return store(channel_id, detected, **kwargs)

        pipeline.store_detected = hang_then_store
    source = KairosDBSource(parse_sources({"sources": [entry]})[0])
    worker = Worker(pipeline, [source], clock=lambda: start + timedelta(hours=hours))
    worker.run_once()
    assert worker.status["sky"].last_error is None, worker.status["sky"].last_error
    print("done", flush=True)
    """
)


def _points() -> list[tuple[int, float]]:
    """Daily-periodic noise with a few large spikes and a level shift, seeded."""
    rng = np.random.default_rng(11)
    n = HOURS * 60 + 1
    minutes = np.arange(n)
    values = 2 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 0.3, n)
    for at in (700, 1500, 1850, 2400):
        values[at] += 15.0
    values[2600:] += 6.0
    return [(T0_MS + i * STEP_MS, round(float(v), 6)) for i, v in enumerate(values)]


def _run(url: str, db: str, hang_at: int = 0) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, db, str(HOURS), str(hang_at)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _anomaly_keys(engine: Engine) -> list[tuple[str, str, datetime]]:
    with Session(engine) as session:
        rows = session.execute(
            select(col(Channel.name), col(Anomaly.detector), col(Anomaly.start)).join(
                Channel, col(Channel.id) == col(Anomaly.channel_id)
            )
        ).all()
    return sorted((name, detector, start) for name, detector, start in rows)


def _stored(engine: Engine) -> pd.DataFrame:
    with Session(engine) as session:
        return queries.channel_points(session, queries.list_channels(session)[0].id)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[tuple[str, str, datetime]]]:
    """Anomaly identities of an uninterrupted run over the same data."""
    fake = FakeKairosDB()
    fake.add("SCH.M1", {"satellite": "SAT2"}, _points())
    db = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'imon.db'}"
    engine = make_engine(db)
    migrate(engine)
    with serve(fake) as url:
        run = _run(url, db)
        _out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    keys = _anomaly_keys(engine)
    assert len(keys) >= 2, keys
    assert len(_stored(engine)) == len(_points())
    engine.dispose()
    yield keys


def _kill_after(victim: subprocess.Popen[str], fake: FakeKairosDB, scenario: str) -> None:
    """SIGKILL the victim between two commits, or at some moment of its polling."""
    if scenario == "between-commits":
        assert victim.stdout is not None
        line = victim.stdout.readline()
        assert line.startswith("points committed"), victim.stderr.read() if victim.stderr else ""
    else:
        deadline = time.monotonic() + 120
        while len(fake.queries) < HOURS // 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)


@pytest.mark.parametrize("scenario", ["between-commits", "mid-poll"])
def test_sigkill_while_ingesting_and_detecting_loses_and_duplicates_nothing(
    engine: Engine, scenario: str, reference: list[tuple[str, str, datetime]]
) -> None:
    points = _points()
    fake = FakeKairosDB()
    fake.add("SCH.M1", {"satellite": "SAT2"}, points)
    fake.delays_s = [0.05] * 1000
    db = _url(engine)

    with serve(fake) as url:
        victim = _run(url, db, HANG_AT_DETECTION if scenario == "between-commits" else 0)
        _kill_after(victim, fake, scenario)
        with Session(engine) as session:
            checkpoint = session.get(Checkpoint, ("sky", "SAT2/SCH.M1"))
            channel_id = queries.list_channels(session)[0].id
            detected = session.get(Checkpoint, (DETECTED_SOURCE, str(channel_id)))
            partial = queries.channel_points(session, channel_id)
        anomalies_at_kill = _anomaly_keys(engine)
        fake.delays_s = []
        before_restart = len(fake.queries)
        survivor = _run(url, db)
        _out, err = survivor.communicate(timeout=300)

    assert victim.returncode == -signal.SIGKILL
    assert checkpoint is not None and detected is not None
    # the checkpoint covers exactly the points committed with it
    assert partial["ts"].max() == pd.Timestamp(checkpoint.last_ts)
    assert 0 < len(partial) < len(points)
    assert set(anomalies_at_kill) < set(reference)
    if scenario == "between-commits":
        # the crash left stored points whose anomalies were found but never committed
        assert detected.last_ts < checkpoint.last_ts
        assert anomalies_at_kill == []
    assert survivor.returncode == 0, err
    resumed_at = fake.queries[before_restart]["start_absolute"]
    assert resumed_at == int(checkpoint.last_ts.timestamp() * 1000) + 1 - 300_000

    stored = _stored(engine)
    expected = pd.to_datetime([ms for ms, _ in points], unit="ms", utc=True)
    assert stored["ts"].tolist() == expected.tolist()
    assert stored["value"].tolist() == [v for _, v in points]
    keys = _anomaly_keys(engine)
    assert len(keys) == len(set(keys)) == len(reference)
    assert keys == reference
