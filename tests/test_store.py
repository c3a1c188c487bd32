"""The store on SQLite and PostgreSQL: idempotent points, corrections, anomalies, lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store import queries, repository
from store.errors import HomeLockedError, NotFoundError
from store.lock import WriterLock
from store.models import Point
from store.repository import AnomalyWrite

T0 = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)


def _series(n: int, offset: float = 0.0) -> tuple[pd.Series, np.ndarray]:
    ts = pd.Series(pd.date_range(T0, periods=n, freq="1min", tz="UTC"))
    return ts, np.arange(n, dtype=float) + offset


def _channel(session: Session, name: str = "bus_voltage") -> int:
    satellite = repository.get_or_create_satellite(session, "SAT-A")
    channel = repository.get_or_create_channel(session, satellite, name, unit="V")
    assert channel.id is not None
    return channel.id


def test_rewriting_the_same_points_adds_nothing(engine: Engine) -> None:
    ts, values = _series(50)
    with Session(engine) as session:
        channel_id = _channel(session)
        first = repository.write_points(session, channel_id, ts, values)
        second = repository.write_points(session, channel_id, ts, values)
        session.commit()
        stored = session.scalar(select(func.count()).select_from(Point))

    assert (first.inserted, first.unchanged) == (50, 0)
    assert (second.inserted, second.corrected, second.unchanged) == (0, 0, 50)
    assert stored == 50


def test_a_new_value_for_a_stored_timestamp_is_a_counted_correction(engine: Engine) -> None:
    ts, values = _series(20)
    changed = values.copy()
    changed[[3, 7]] += 100.0
    with Session(engine) as session:
        channel_id = _channel(session)
        repository.write_points(session, channel_id, ts, values)
        result = repository.write_points(session, channel_id, ts, changed)
        session.commit()
        frame = queries.channel_points(session, channel_id)

    assert result.corrected == 2
    assert result.corrected_ts == [ts[3].to_pydatetime(), ts[7].to_pydatetime()]
    assert frame["value"].tolist() == changed.tolist()


def test_timestamps_come_back_timezone_aware_utc(engine: Engine) -> None:
    ts, values = _series(3)
    with Session(engine) as session:
        channel_id = _channel(session)
        repository.write_points(session, channel_id, ts, values)
        session.commit()
        channel = queries.get_channel(session, channel_id)

    assert channel.first == T0
    assert channel.first is not None and channel.first.tzinfo is not None
    assert channel.last == T0 + timedelta(minutes=2)


def test_anomaly_upsert_updates_by_identity_and_keeps_status(engine: Engine) -> None:
    item = AnomalyWrite("matrix_profile", "pattern", T0, T0, 5.0, "low", True, {"m": 10})
    grown = AnomalyWrite(
        "matrix_profile", "pattern", T0, T0 + timedelta(minutes=5), 9.0, "high", False, {}
    )
    with Session(engine) as session:
        channel_id = _channel(session)
        [(record, created)] = repository.upsert_anomalies(session, channel_id, [item])
        record.status = "confirmed"
        session.commit()
        [(again, created_again)] = repository.upsert_anomalies(session, channel_id, [grown])
        session.commit()
        same_row = again.id == record.id  # read in the session: commit expired both
        views, total = queries.list_anomalies(session, satellite="SAT-A")

    assert created and not created_again
    assert same_row
    assert total == 1
    assert views[0].end == T0 + timedelta(minutes=5)
    assert (views[0].severity, views[0].status, views[0].ongoing) == ("high", "confirmed", False)


def test_anomaly_filters_select_by_overlap_kind_and_severity(engine: Engine) -> None:
    rows = [
        AnomalyWrite("d", "spike", T0, T0 + timedelta(minutes=1), 3.0, "low", False, {}),
        AnomalyWrite(
            "d",
            "level_shift",
            T0 + timedelta(hours=2),
            T0 + timedelta(hours=3),
            8,
            "high",
            False,
            {},
        ),
    ]
    with Session(engine) as session:
        channel_id = _channel(session)
        repository.upsert_anomalies(session, channel_id, rows)
        session.commit()
        in_window, _ = queries.list_anomalies(
            session, start=T0 + timedelta(hours=2, minutes=30), end=T0 + timedelta(hours=4)
        )
        high, _ = queries.list_anomalies(session, min_severity="medium")
        spikes, _ = queries.list_anomalies(session, kind="spike")

    assert [a.kind for a in in_window] == ["level_shift"]
    assert [a.kind for a in high] == ["level_shift"]
    assert [a.kind for a in spikes] == ["spike"]


def test_checkpoint_never_moves_backwards(engine: Engine) -> None:
    with Session(engine) as session:
        repository.save_checkpoint(session, "file:a.csv", "SAT-A/x", T0)
        session.commit()
        repository.save_checkpoint(session, "file:a.csv", "SAT-A/x", T0 - timedelta(days=1))
        session.commit()
        assert repository.get_checkpoint(session, "file:a.csv", "SAT-A/x") == T0


def test_unknown_anomaly_id_raises_not_found(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(NotFoundError, match="anomaly 999"):
        queries.get_anomaly(session, 999)


def test_naive_datetime_is_refused(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        channel_id = _channel(session)
        session.add(Point(channel_id=channel_id, ts=datetime(2024, 1, 1), value=1.0))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_second_writer_is_told_to_stop_the_server_or_use_http(tmp_path: Path) -> None:
    first = WriterLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(HomeLockedError, match="Stop the server") as error:
            WriterLock(tmp_path).acquire()
        assert "POST /ingest" in str(error.value)
    finally:
        first.release()
    WriterLock(tmp_path).acquire()
