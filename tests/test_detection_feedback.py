"""Operator feedback: a false positive makes similar later anomalies of its channel score lower.

A periodic channel gets the same upward spike twice (same phase, 1000 points apart)
and a downward spike in between. Marking the first spike ``false_positive`` must halve
the score of the second (``detection.feedback.FALSE_POSITIVE_DISCOUNT``) and leave the
dissimilar downward spike alone: on the detector itself, and end to end through the
store's annotation function (what ``POST /anomalies/{id}/annotations`` calls) and the
ingestion pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from detection import DetectedAnomaly, detect_series
from detection.feedback import (
    FALSE_POSITIVE_DISCOUNT,
    SHAPE_POINTS,
    SIMILAR_DISTANCE,
    FeedbackFilter,
    shape_of,
)
from ingestion.pipeline import Pipeline
from store.annotations import record_annotation
from store.models import AnnotationCreate, Anomaly

N = 3000
STEP_NS = 60 * 10**9
FIRST, OTHER, SECOND = 1200, 1700, 2200
SPLIT = 1500


def _signal() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(N)
    values = np.sin(2 * np.pi * t / 40) + np.random.default_rng(5).normal(0, 0.1, N)
    values[FIRST] += 6.0
    values[SECOND] += 6.0
    values[OTHER] -= 6.0
    return (t * STEP_NS).astype(np.int64), values


def _at(found: list[DetectedAnomaly], row: int, ts: np.ndarray) -> DetectedAnomaly:
    hits = [a for a in found if a.start.value == ts[row]]
    assert len(hits) == 1, f"expected one anomaly starting at row {row}, got {hits}"
    return hits[0]


@pytest.fixture(scope="module")
def plain() -> list[DetectedAnomaly]:
    return detect_series(*_signal())


def test_every_anomaly_carries_its_shape(plain: list[DetectedAnomaly]) -> None:
    assert plain
    for anomaly in plain:
        shape = anomaly.params["shape"]
        assert len(shape) == SHAPE_POINTS
        assert abs(float(np.mean(shape))) < 1e-3 and abs(float(np.std(shape)) - 1) < 1e-3


def test_a_known_false_positive_discounts_the_similar_anomaly_only(
    plain: list[DetectedAnomaly],
) -> None:
    ts, values = _signal()
    fp_shape = _at(plain, FIRST, ts).params["shape"]

    with_feedback = detect_series(ts, values, false_positives=[fp_shape])

    before, after = _at(plain, SECOND, ts), _at(with_feedback, SECOND, ts)
    assert after.score == pytest.approx(FALSE_POSITIVE_DISCOUNT * before.score)
    assert after.params["feedback"]["similar_false_positive"] <= SIMILAR_DISTANCE
    other_before, other_after = _at(plain, OTHER, ts), _at(with_feedback, OTHER, ts)
    assert other_after.score == other_before.score
    assert "feedback" not in other_after.params


def test_shape_distance_is_zero_for_a_scaled_copy_and_large_for_a_mirror() -> None:
    x = np.sin(np.linspace(0, 3, 50)) + np.linspace(0, 1, 50)
    filt = FeedbackFilter([shape_of(x)])

    assert filt.nearest(shape_of(3 * x + 7)) < 1e-3
    assert filt.factor(shape_of(-x)) == (1.0, pytest.approx(2.0, abs=1e-3))
    assert FeedbackFilter().nearest(shape_of(x)) == float("inf")


def test_bad_shapes_are_rejected_naming_the_expected_length() -> None:
    with pytest.raises(ValueError, match=f"{SHAPE_POINTS} finite values"):
        FeedbackFilter([[0.0, 1.0]])
    with pytest.raises(ValueError, match="at least two finite samples"):
        shape_of(np.array([1.0, np.nan, 2.0]))


def _frame(ts: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"ts": pd.to_datetime(ts, unit="ns", utc=True), "channel": "bus_v", "value": values}
    )


def _stored_at(engine: Engine, ts: np.ndarray, row: int) -> Anomaly:
    start = pd.Timestamp(int(ts[row]), unit="ns", tz="UTC")
    with Session(engine) as session:
        found = [a for a in session.exec(select(Anomaly)).all() if pd.Timestamp(a.start) == start]
    assert len(found) == 1, f"expected one stored anomaly at row {row}, got {found}"
    return found[0]


def test_false_positive_annotation_lowers_later_similar_anomalies_in_the_pipeline(
    sqlite_engine: Engine, plain: list[DetectedAnomaly]
) -> None:
    ts, values = _signal()
    pipeline = Pipeline(sqlite_engine)
    pipeline.ingest("SAT-FB", _frame(ts[:SPLIT], values[:SPLIT]), source="test")
    first = _stored_at(sqlite_engine, ts, FIRST)
    assert first.id is not None and len(first.params["shape"]) == SHAPE_POINTS

    record_annotation(
        sqlite_engine,
        first.id,
        AnnotationCreate(author="ops@example.com", text="eclipse entry", label="false_positive"),
    )
    pipeline.ingest("SAT-FB", _frame(ts[SPLIT:], values[SPLIT:]), source="test")

    second, other = _stored_at(sqlite_engine, ts, SECOND), _stored_at(sqlite_engine, ts, OTHER)
    assert second.score == pytest.approx(FALSE_POSITIVE_DISCOUNT * _at(plain, SECOND, ts).score)
    assert "feedback" in second.params
    assert other.score == pytest.approx(_at(plain, OTHER, ts).score)
