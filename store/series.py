"""Channel series for display: raw points, or min/max per time bucket computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Integer, cast, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from store.errors import NotFoundError
from store.models import Channel, Point, Satellite

#: Julian day number of 1970-01-01T00:00:00 (SQLite has no epoch extraction for text dates).
_UNIX_EPOCH_JULIAN = 2440587.5


@dataclass(frozen=True)
class Series:
    """Points or buckets of a channel over [start, end]; `bucket_s` is 0 for raw points.

    `frame` has columns ts (UTC; the first stored timestamp of each bucket), min, max,
    count. Raw points have min == max and count 1.
    """

    start: datetime
    end: datetime
    bucket_s: float
    total: int
    frame: pd.DataFrame

    def rows(self) -> list[tuple[datetime, float, float, int]]:
        """(ts, min, max, count) per row, timestamps as aware UTC datetimes."""
        return [
            (ts.to_pydatetime(), float(low), float(high), int(n))
            for ts, low, high, n in zip(
                pd.DatetimeIndex(self.frame["ts"]),
                self.frame["min"],
                self.frame["max"],
                self.frame["count"],
                strict=True,
            )
        ]


@dataclass(frozen=True)
class ChannelHeader:
    """What a plot title needs: ids, names and unit, without point statistics."""

    id: int
    satellite: str
    name: str
    unit: str | None


def channel_series(
    session: Session,
    channel_id: int,
    start: datetime | None,
    end: datetime | None,
    max_points: int,
) -> tuple[ChannelHeader, Series]:
    """A channel and its series over [start, end] (default: its stored range), bucketed.

    Raises `NotFoundError` for an unknown channel and `ValueError` when end < start.
    """
    channel = session.get(Channel, channel_id)
    if channel is None or channel.id is None:
        raise NotFoundError(f"channel {channel_id} does not exist")
    satellite = session.get(Satellite, channel.satellite_id)
    header = ChannelHeader(
        channel.id, satellite.name if satellite else "", channel.name, channel.unit
    )
    if start is None or end is None:
        first, last = point_range(session, channel_id)
        end = end or last or datetime.now(UTC)
        start = start or first or end
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return header, downsampled(session, channel_id, start, end, max_points)


def point_range(session: Session, channel_id: int) -> tuple[datetime | None, datetime | None]:
    """First and last stored timestamps of a channel."""
    row: Any = session.execute(
        sa_select(func.min(col(Point.ts)), func.max(col(Point.ts))).where(
            col(Point.channel_id) == channel_id
        )
    ).one()
    return _to_utc(row[0]), _to_utc(row[1])


def downsampled(
    session: Session, channel_id: int, start: datetime, end: datetime, max_points: int
) -> Series:
    """At most `max_points` rows of a channel over [start, end]: raw when few, else buckets."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1; got {max_points}")
    where = (
        col(Point.channel_id) == channel_id,
        col(Point.ts) >= start,
        col(Point.ts) <= end,
    )
    total = int(session.scalar(sa_select(func.count()).where(*where)) or 0)
    if total <= max_points:
        rows = session.execute(
            sa_select(col(Point.ts), col(Point.value)).where(*where).order_by(col(Point.ts))
        ).all()
        frame = pd.DataFrame(rows, columns=["ts", "value"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame = frame.assign(min=frame["value"], max=frame["value"], count=1)
        return Series(start, end, 0.0, total, frame[["ts", "min", "max", "count"]])

    # slightly wider than span / max_points so the point at `end` falls in the last bucket
    bucket_s = max((end - start).total_seconds() / max_points * (1 + 1e-9), 1e-3)
    bucket = _bucket_expression(session, start, bucket_s)
    grouped = (
        sa_select(
            bucket.label("bucket"),
            func.min(col(Point.ts)).label("ts"),
            func.min(col(Point.value)).label("min"),
            func.max(col(Point.value)).label("max"),
            func.count().label("count"),
        )
        .where(*where)
        .group_by("bucket")
        .order_by("bucket")
    )
    frame = pd.DataFrame(
        session.execute(grouped).all(), columns=["b", "ts", "min", "max", "count"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"].map(_to_utc), utc=True)
    return Series(
        start, end, bucket_s, total, frame[["ts", "min", "max", "count"]].head(max_points)
    )


def _bucket_expression(session: Session, start: datetime, bucket_s: float) -> Any:
    """Bucket number of each point: floor((epoch(ts) - epoch(start)) / bucket_s)."""
    origin = start.timestamp()
    if session.get_bind().dialect.name == "sqlite":
        epoch = (func.julianday(col(Point.ts)) - _UNIX_EPOCH_JULIAN) * 86400.0
        return cast((epoch - origin) / bucket_s, Integer)  # non-negative: truncation is floor
    epoch = func.extract("epoch", col(Point.ts))
    return func.floor((epoch - origin) / bucket_s)


def _to_utc(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite gives text, PostgreSQL naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
