"""Reads from the store, shaped for the agent tools and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, type_coerce
from sqlalchemy import select as sa_select
from sqlalchemy.types import NullType
from sqlmodel import Session, col, select

from store.errors import NotFoundError
from store.models import Anomaly, Channel, Event, Point, Satellite

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class AnomalyView:
    """An anomaly with the names of its channel and satellite."""

    id: int
    satellite: str
    channel: str
    channel_id: int
    start: datetime
    end: datetime
    ongoing: bool
    kind: str
    severity: str
    score: float
    detector: str
    status: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ChannelView:
    """A channel with its satellite's name and how much data it holds."""

    id: int
    satellite: str
    name: str
    unit: str | None
    description: str | None
    points: int
    first: datetime | None
    last: datetime | None


#: The columns an `AnomalyView` is built from, in its field order; plain columns, not ORM
#: rows, so a page of anomalies costs no object loading.
_VIEW_COLUMNS = (
    col(Anomaly.id),
    col(Satellite.name),
    col(Channel.name),
    col(Anomaly.channel_id),
    type_coerce(col(Anomaly.start), NullType()),  # as the driver gives it: see _utc
    type_coerce(col(Anomaly.end), NullType()),
    col(Anomaly.ongoing),
    col(Anomaly.kind),
    col(Anomaly.severity),
    col(Anomaly.score),
    col(Anomaly.detector),
    col(Anomaly.status),
    col(Anomaly.params),
)


def _anomaly_view(row: Any) -> AnomalyView:
    (
        ident,
        sat,
        chan,
        channel_id,
        start,
        end,
        ongoing,
        kind,
        severity,
        score,
        det,
        status,
        params,
    ) = row
    return AnomalyView(
        id=ident,
        satellite=sat,
        channel=chan,
        channel_id=channel_id,
        start=_utc(start),
        end=_utc(end),
        ongoing=ongoing,
        kind=kind,
        severity=severity,
        score=score,
        detector=det,
        status=status,
        params=dict(params or {}),
    )


def _utc(value: Any) -> datetime:
    """A stored timestamp (SQLite text, PostgreSQL naive UTC) as an aware UTC datetime.

    What `UTCDateTime` does, without the SQLite dialect's regular-expression parse first.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _with_names(query: Any) -> Any:
    return query.join(Channel, col(Channel.id) == col(Anomaly.channel_id)).join(
        Satellite, col(Satellite.id) == col(Channel.satellite_id)
    )


def list_anomalies(
    session: Session,
    *,
    satellite: str | None = None,
    channel: str | None = None,
    channel_ids: list[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: str | None = None,
    min_severity: str | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> tuple[list[AnomalyView], int]:
    """Anomalies overlapping [start, end] that match the filters, and their total count."""
    conditions: list[Any] = []
    if satellite is not None:
        conditions.append(col(Satellite.name) == satellite)
    if channel is not None:
        conditions.append(col(Channel.name) == channel)
    if channel_ids is not None:
        conditions.append(col(Anomaly.channel_id).in_(channel_ids))
    if start is not None:
        conditions.append(col(Anomaly.end) >= start)
    if end is not None:
        conditions.append(col(Anomaly.start) <= end)
    if kind is not None:
        conditions.append(col(Anomaly.kind) == kind)
    if min_severity is not None:
        allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
        conditions.append(col(Anomaly.severity).in_(allowed))

    # through the session, so a tenant-scoped session (store.tenancy) filters them too
    total = session.scalar(
        _with_names(sa_select(func.count()).select_from(Anomaly)).where(*conditions)
    )
    order = col(Anomaly.start).desc() if newest_first else col(Anomaly.start).asc()
    page = _with_names(sa_select(*_VIEW_COLUMNS).select_from(Anomaly)).where(*conditions)
    rows = session.execute(page.order_by(order, col(Anomaly.id)).offset(offset).limit(limit))
    return [_anomaly_view(row) for row in rows], int(total or 0)


def get_anomaly(session: Session, anomaly_id: int) -> AnomalyView:
    """One anomaly by id, or `NotFoundError`."""
    row: Any = session.execute(
        _with_names(sa_select(*_VIEW_COLUMNS).select_from(Anomaly)).where(
            col(Anomaly.id) == anomaly_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"anomaly {anomaly_id} does not exist")
    return _anomaly_view(row)


def list_satellites(session: Session) -> list[Satellite]:
    """Every satellite, by name."""
    return list(session.scalars(select(Satellite).order_by(col(Satellite.name))).all())


def list_channels(session: Session, satellite: str | None = None) -> list[ChannelView]:
    """Channels with their point counts and first/last timestamps."""
    stats = (
        select(
            col(Point.channel_id),
            func.count().label("n"),
            func.min(col(Point.ts)).label("first"),
            func.max(col(Point.ts)).label("last"),
        )
        .group_by(col(Point.channel_id))
        .subquery()
    )
    query = (
        sa_select(Channel, Satellite, stats.c.n, stats.c.first, stats.c.last)
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .outerjoin(stats, stats.c.channel_id == col(Channel.id))
        .order_by(col(Satellite.name), col(Channel.name))
    )
    if satellite is not None:
        query = query.where(col(Satellite.name) == satellite)
    views = []
    rows: list[Any] = list(session.execute(query).all())
    for channel, sat, count, first, last in rows:
        assert channel.id is not None
        views.append(
            ChannelView(
                id=channel.id,
                satellite=sat.name,
                name=channel.name,
                unit=channel.unit,
                description=channel.description,
                points=int(count or 0),
                first=_as_utc(first),
                last=_as_utc(last),
            )
        )
    return views


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (
        pd.Timestamp(value).tz_localize("UTC").to_pydatetime() if value.tzinfo is None else (value)
    )


def get_channel(session: Session, channel_id: int) -> ChannelView:
    """One channel by id, or `NotFoundError`."""
    for view in list_channels(session):
        if view.id == channel_id:
            return view
    raise NotFoundError(f"channel {channel_id} does not exist")


def channel_points(
    session: Session,
    channel_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    latest: bool = False,
) -> pd.DataFrame:
    """Points of a channel as a frame with `ts` (UTC) and `value`, in time order.

    With `latest` and `limit`, the newest `limit` points of the range are returned.
    """
    # timestamps come back as the driver gives them (SQLite text, PostgreSQL naive UTC) and
    # are converted by pandas at once: the column type's per-row conversion is 4x slower
    raw_ts = type_coerce(col(Point.ts), NullType())
    query = sa_select(raw_ts, col(Point.value)).where(col(Point.channel_id) == channel_id)
    if start is not None:
        query = query.where(col(Point.ts) >= start)
    if end is not None:
        query = query.where(col(Point.ts) <= end)
    query = query.order_by(col(Point.ts).desc() if latest else col(Point.ts))
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    stamps: list[Any] = [row[0] for row in rows]
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(stamps, utc=True, format="ISO8601"),
            "value": np.asarray([row[1] for row in rows], dtype=float),
        }
    )
    return frame.sort_values("ts").reset_index(drop=True) if latest else frame


def latest_timestamp(session: Session) -> datetime | None:
    """The newest point timestamp in the whole store."""
    return _as_utc(session.scalar(select(func.max(col(Point.ts)))))


def list_events(
    session: Session, satellite_id: int, start: datetime, end: datetime
) -> list[Event]:
    """Context events of a satellite within [start, end]."""
    return list(
        session.scalars(
            select(Event)
            .where(
                col(Event.satellite_id) == satellite_id,
                col(Event.ts) >= start,
                col(Event.ts) <= end,
            )
            .order_by(col(Event.ts))
        ).all()
    )


def channels_of_metric(session: Session, metric: str) -> list[tuple[int, str, str]]:
    """(channel id, satellite, channel name) of channels named `metric` or `metric{...}`."""
    query = (
        sa_select(col(Channel.id), col(Satellite.name), col(Channel.name))
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .where(
            (col(Channel.name) == metric)
            | col(Channel.name).startswith(metric + "{", autoescape=True)
        )
        .order_by(col(Satellite.name), col(Channel.name))
    )
    rows: list[Any] = list(session.execute(query).all())
    return [(int(i), str(s), str(n)) for i, s, n in rows]


def channel_names(session: Session) -> list[str]:
    """Distinct channel names over all satellites."""
    return [str(n) for n in session.scalars(sa_select(col(Channel.name)).distinct()).all()]


def tenants_of_channels(session: Session, channel_ids: list[int]) -> dict[int, str]:
    """The tenant owning each of `channel_ids` (unknown ids are left out)."""
    rows: list[Any] = list(
        session.execute(
            sa_select(col(Channel.id), col(Satellite.tenant))
            .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
            .where(col(Channel.id).in_(channel_ids))
        ).all()
    )
    return {int(ident): str(tenant) for ident, tenant in rows}
