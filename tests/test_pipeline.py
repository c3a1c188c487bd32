"""The ingest → detect → store pipeline on SQLite and PostgreSQL, with real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from eval.datasets import load_manifest, load_series
from eval.metrics import event_score
from ingestion.pipeline import Pipeline
from store import queries
from store.models import Anomaly, Point

SERIES = "realKnownCause/machine_temperature_system_failure"


def _frame(shared_data: Path, series_id: str) -> tuple[pd.DataFrame, list]:
    entry = next(e for e in load_manifest(shared_data) if e["series_id"] == series_id)
    series = load_series(shared_data, entry)
    frame = pd.DataFrame({"ts": series.ts, "channel": "temperature", "value": series.values})
    return frame, series.windows


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        points = session.scalar(select(func.count()).select_from(Point)) or 0
        anomalies = session.scalar(select(func.count()).select_from(Anomaly)) or 0
    return points, anomalies


def test_real_series_is_stored_once_and_its_anomalies_overlap_the_labels(
    engine: Engine, shared_data: Path
) -> None:
    frame, windows = _frame(shared_data, SERIES)
    pipeline = Pipeline(engine)

    first = pipeline.ingest("NAB", frame, source="test")
    counts = _counts(engine)
    again = Pipeline(engine).ingest("NAB", frame, source="test")

    assert first.inserted == len(frame) and counts[0] == len(frame)
    assert first.anomalies_new > 0
    assert again.inserted == 0 and again.unchanged == len(frame)
    assert _counts(engine) == counts, "re-ingesting the same file must add nothing"
    with Session(engine) as session:
        stored, _ = queries.list_anomalies(session, satellite="NAB", limit=1000)
    score = event_score(windows, [(pd.Timestamp(a.start), pd.Timestamp(a.end)) for a in stored])
    assert score.recall >= 0.5, score


def test_corrected_values_are_counted_and_their_window_rechecked(
    engine: Engine, shared_data: Path
) -> None:
    frame, _ = _frame(shared_data, SERIES)
    frame = frame.iloc[:3000].reset_index(drop=True)
    pipeline = Pipeline(engine)
    pipeline.ingest("NAB", frame, source="test")
    corrected = frame.iloc[2500:2510].copy()
    corrected["value"] = corrected["value"] + 500.0

    report = pipeline.ingest("NAB", corrected, source="test")

    assert report.corrected == 10 and report.inserted == 0
    with Session(engine) as session:
        spot, _ = queries.list_anomalies(
            session,
            start=corrected["ts"].iloc[0].to_pydatetime(),
            end=corrected["ts"].iloc[-1].to_pydatetime(),
        )
        stored = queries.channel_points(session, spot[0].channel_id if spot else 1)
    assert spot, "a +500 degree jump on ten corrected points must be flagged"
    assert np.allclose(stored["value"].iloc[2500:2510], corrected["value"])


def test_late_points_are_stored_and_rechecked(sqlite_engine: Engine, shared_data: Path) -> None:
    frame, _ = _frame(shared_data, SERIES)
    frame = frame.iloc[:3000].reset_index(drop=True)
    late = frame.iloc[1000:1010].copy()
    early = frame.drop(index=late.index)
    pipeline = Pipeline(sqlite_engine)
    pipeline.ingest("NAB", early, source="test")

    report = pipeline.ingest("NAB", late, source="test")

    assert report.inserted == 10
    assert _counts(sqlite_engine)[0] == 3000
