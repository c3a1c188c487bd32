"""A worker killed with SIGKILL mid-poll loses nothing and duplicates nothing on restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlmodel import Session

from store import queries
from store.db import make_engine, migrate
from store.models import Checkpoint
from tests.kairos_fake import FakeKairosDB, serve

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
HOURS = 48
STEP_MS = 60_000

WORKER = textwrap.dedent(
    """
    import functools, sys
    from datetime import UTC, datetime, timedelta
    from ingestion.kairosdb import KairosDBSource
    from ingestion.pipeline import Pipeline
    from ingestion.sources import parse_sources
    from ingestion.worker import Worker
    from store.db import make_engine

    url, db, hours = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start = datetime(2024, 5, 1, tzinfo=UTC)
    entry = {"type": "kairosdb", "name": "sky", "url": url, "metrics": ["SCH.M1"],
             "tags": {"satellite": "SAT2"}, "start": start, "chunk_hours": 1,
             "overlap_s": 300, "backoff_s": 0.01}
    pipeline = Pipeline(make_engine(db))
    pipeline.ingest = functools.partial(pipeline.ingest, detect=False)
    source = KairosDBSource(parse_sources({"sources": [entry]})[0])
    worker = Worker(pipeline, [source], clock=lambda: start + timedelta(hours=hours))
    worker.run_once()
    assert worker.status["sky"].last_error is None, worker.status["sky"].last_error
    print("done", flush=True)
    """
)


def _run(url: str, db: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, db, str(HOURS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_poll_then_restart_stores_every_point_once(tmp_path: Path) -> None:
    fake = FakeKairosDB()
    points = [(T0_MS + i * STEP_MS, float(i)) for i in range(HOURS * 60 + 1)]
    fake.add("SCH.M1", {"satellite": "SAT2"}, points)
    fake.delays_s = [0.1] * 1000
    db = f"sqlite:///{tmp_path / 'imon.db'}"
    engine = make_engine(db)
    migrate(engine)

    with serve(fake) as url:
        victim = _run(url, db)
        deadline = time.monotonic() + 60
        while len(fake.queries) < HOURS // 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        with Session(engine) as session:
            checkpoint = session.get(Checkpoint, ("sky", "SAT2/SCH.M1"))
            channels = queries.list_channels(session)
            partial = queries.channel_points(session, channels[0].id) if channels else None
        fake.delays_s = []
        before_restart = len(fake.queries)
        survivor = _run(url, db)
        out, err = survivor.communicate(timeout=120)

    assert victim.returncode == -signal.SIGKILL
    assert checkpoint is not None and partial is not None
    # the checkpoint covers exactly the points committed with it
    assert partial["ts"].max() == pd.Timestamp(checkpoint.last_ts)
    assert 0 < len(partial) < len(points)
    assert survivor.returncode == 0, err
    resumed_at = fake.queries[before_restart]["start_absolute"]
    assert resumed_at == int(checkpoint.last_ts.timestamp() * 1000) + 1 - 300_000
    with Session(engine) as session:
        stored = queries.channel_points(session, queries.list_channels(session)[0].id)
    expected = pd.to_datetime([ms for ms, _ in points], unit="ms", utc=True)
    assert stored["ts"].tolist() == expected.tolist()
    assert stored["value"].tolist() == [v for _, v in points]
    engine.dispose()
