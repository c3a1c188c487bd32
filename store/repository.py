"""Writes to the store: satellites, channels, points, anomalies, checkpoints, events."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from store.models import Anomaly, Channel, Checkpoint, Event, Point, Satellite
from store.types import UTCDateTime, utc_now

logger = logging.getLogger(__name__)

INSERT_BATCH = 5_000


@dataclass
class PointWriteResult:
    """What writing a batch of points to one channel did."""

    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    corrected_ts: list[datetime] = field(default_factory=list)
    unchanged_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass(frozen=True)
class AnomalyWrite:
    """The values of one anomaly to insert or update, keyed by (detector, start)."""

    detector: str
    kind: str
    start: datetime
    end: datetime
    score: float
    severity: str
    ongoing: bool
    params: dict[str, Any]


def get_or_create_satellite(session: Session, name: str, tenant: str = "default") -> Satellite:
    """The satellite called `name` in `tenant`, created when new."""
    found = session.scalars(
        select(Satellite).where(col(Satellite.tenant) == tenant, col(Satellite.name) == name)
    ).first()
    if found is not None:
        return found
    satellite = Satellite(name=name, tenant=tenant)
    session.add(satellite)
    session.flush()
    logger.info("new satellite %s (tenant %s)", name, tenant)
    return satellite


def get_or_create_channel(
    session: Session,
    satellite: Satellite,
    name: str,
    unit: str | None = None,
    description: str | None = None,
) -> Channel:
    """The channel `name` of `satellite`, created when new; fills a missing unit/description."""
    channel = session.scalars(
        select(Channel).where(col(Channel.satellite_id) == satellite.id, col(Channel.name) == name)
    ).first()
    if channel is None:
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name=name, unit=unit, description=description)
        session.add(channel)
        session.flush()
        logger.info("new channel %s/%s", satellite.name, name)
        return channel
    if unit and not channel.unit:
        channel.unit = unit
    if description and not channel.description:
        channel.description = description
    return channel


def write_points(
    session: Session, channel_id: int, ts: pd.Series, values: np.ndarray
) -> PointWriteResult:
    """Store points of one channel; existing timestamps with a new value are corrections.

    `ts` is a datetime64[ns, UTC] series without duplicates, `values` finite floats.
    Re-writing identical points changes nothing.
    """
    result = PointWriteResult()
    if len(ts) == 0:
        return result
    stamps = pd.DatetimeIndex(ts)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    values = np.asarray(values, dtype=float)

    old_ns, old_values = _existing_values(session, channel_id, stamps.min(), stamps.max())
    result.unchanged_mask = np.zeros(len(stamps), dtype=bool)
    if old_ns.size == 0:
        new_ts, new_values = stamps, values
        changed_ts, changed_values = stamps[:0], values[:0]
    else:
        where = pd.Index(old_ns).get_indexer(stamps.asi8)
        is_new = where < 0
        known = np.flatnonzero(~is_new)
        is_changed = ~np.isclose(values[known], old_values[where[known]], rtol=0.0, atol=0.0)
        new_ts, new_values = stamps[is_new], values[is_new]
        changed_ts, changed_values = stamps[known[is_changed]], values[known[is_changed]]
        result.unchanged = int((~is_changed).sum())
        result.unchanged_mask[known[~is_changed]] = True

    insert_points(session, channel_id, new_ts, new_values)
    result.inserted = len(new_ts)

    if len(changed_ts):
        corrected_ts = list(changed_ts.to_pydatetime())
        point_table = SQLModel.metadata.tables["point"]
        session.connection().execute(
            update(point_table)
            .where(
                and_(
                    point_table.c.channel_id == channel_id,
                    point_table.c.ts == bindparam("b_ts", type_=UTCDateTime()),
                )
            )
            .values(value=bindparam("b_value")),
            [
                {"b_ts": t, "b_value": float(v)}
                for t, v in zip(corrected_ts, changed_values, strict=True)
            ],
        )
        result.corrected = len(corrected_ts)
        result.corrected_ts = corrected_ts
    return result


def insert_points(
    session: Session, channel_id: int, ts: pd.DatetimeIndex, values: np.ndarray
) -> None:
    """Insert new points of one channel in bulk (timestamps UTC, kept to the microsecond).

    SQLite gets one ``executemany`` of rows already in SQLAlchemy's text format,
    PostgreSQL (psycopg) one binary ``COPY``; other databases the ORM's batched insert.
    Every path stores the same values as an ORM insert of the same points.
    """
    if len(ts) == 0:
        return
    micros = ts.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[us]")
    values = np.asarray(values, dtype=np.float64)
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        # SQLAlchemy stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff"
        text = np.char.replace(np.datetime_as_string(micros, unit="us"), "T", " ")
        rows = list(zip(repeat(channel_id), text.tolist(), values.tolist()))
        connection.exec_driver_sql(
            "INSERT INTO point (channel_id, ts, value) VALUES (?, ?, ?)", rows
        )
        return
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_points(connection, channel_id, micros, values)
        return
    stamps = ts.to_pydatetime()
    for offset in range(0, len(stamps), INSERT_BATCH):
        session.execute(
            insert(Point),
            [
                {"channel_id": channel_id, "ts": t, "value": float(v)}
                for t, v in zip(
                    stamps[offset : offset + INSERT_BATCH],
                    values[offset : offset + INSERT_BATCH],
                    strict=True,
                )
            ],
        )


#: PostgreSQL's binary COPY: signature, flags, header extension length; end marker
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_PG_COPY_END = b"\xff\xff"
#: 2000-01-01T00:00:00, PostgreSQL's timestamp origin, in microseconds since 1970
_PG_EPOCH_US = 946_684_800_000_000
_PG_POINT_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("channel_size", ">i4"),
        ("channel_id", ">i4"),
        ("ts_size", ">i4"),
        ("ts", ">i8"),
        ("value_size", ">i4"),
        ("value", ">f8"),
    ]
)


def _copy_points(connection: Any, channel_id: int, micros: np.ndarray, values: np.ndarray) -> None:
    """One binary COPY of (channel_id, ts, value) rows, built without a Python loop."""
    rows = np.empty(len(values), dtype=_PG_POINT_ROW)
    rows["fields"] = 3
    rows["channel_size"] = 4
    rows["channel_id"] = channel_id
    rows["ts_size"] = 8
    rows["ts"] = micros.view(np.int64) - _PG_EPOCH_US
    rows["value_size"] = 8
    rows["value"] = values
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy("COPY point (channel_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PG_COPY_HEADER + rows.tobytes() + _PG_COPY_END)


def _existing_values(
    session: Session, channel_id: int, first: pd.Timestamp, last: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Stored points of a channel in [first, last]: timestamps (int64 ns UTC) and values."""
    point_table = SQLModel.metadata.tables["point"]
    rows = (
        session.connection()
        .execute(
            sa_select(point_table.c.ts, point_table.c.value).where(
                point_table.c.channel_id == channel_id,
                point_table.c.ts >= first.to_pydatetime(),
                point_table.c.ts <= last.to_pydatetime(),
            )
        )
        .all()
    )
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=float)
    stamps = pd.DatetimeIndex([row[0] for row in rows]).tz_convert("UTC")
    return stamps.asi8, np.array([row[1] for row in rows], dtype=float)


def upsert_anomalies(
    session: Session, channel_id: int, anomalies: Iterable[AnomalyWrite]
) -> list[tuple[Anomaly, bool]]:
    """Insert new anomalies and update known ones; returns (record, created) pairs.

    An anomaly is known by (channel, detector, start). Its status (operator feedback) is
    kept when its end, score or severity change.
    """
    written: list[tuple[Anomaly, bool]] = []
    for item in anomalies:
        found = session.scalars(
            select(Anomaly).where(
                col(Anomaly.channel_id) == channel_id,
                col(Anomaly.detector) == item.detector,
                col(Anomaly.start) == item.start,
            )
        ).first()
        if found is None:
            record = Anomaly(
                channel_id=channel_id,
                detector=item.detector,
                kind=item.kind,
                start=item.start,
                end=item.end,
                score=item.score,
                severity=item.severity,
                ongoing=item.ongoing,
                params=item.params,
            )
            session.add(record)
            written.append((record, True))
            continue
        found.kind = item.kind
        found.end = item.end
        found.score = item.score
        found.severity = item.severity
        found.ongoing = item.ongoing
        found.params = item.params
        found.updated_at = utc_now()
        session.add(found)
        written.append((found, False))
    session.flush()
    return written


def save_checkpoint(session: Session, source: str, channel: str, last_ts: datetime) -> None:
    """Record how far `source` has delivered `channel`; never moves backwards."""
    found = session.get(Checkpoint, (source, channel))
    if found is None:
        session.add(Checkpoint(source=source, channel=channel, last_ts=last_ts))
    elif last_ts > found.last_ts:
        found.last_ts = last_ts
        session.add(found)


def get_checkpoint(session: Session, source: str, channel: str) -> datetime | None:
    """The last timestamp `source` delivered for `channel`, if any."""
    found = session.get(Checkpoint, (source, channel))
    return None if found is None else found.last_ts


def add_events(session: Session, satellite: Satellite, events: Sequence[Event]) -> int:
    """Store context events, skipping ones already stored; returns how many were new."""
    added = 0
    for item in events:
        exists = session.scalars(
            select(Event).where(
                col(Event.satellite_id) == satellite.id,
                col(Event.ts) == item.ts,
                col(Event.kind) == item.kind,
            )
        ).first()
        if exists is None:
            assert satellite.id is not None
            item.satellite_id = satellite.id
            session.add(item)
            added += 1
    session.flush()
    return added
