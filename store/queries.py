"""Reads from the store, shaped for the agent tools and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlalchemy import select as sa_select
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


def _anomaly_view(anomaly: Anomaly, channel: Channel, satellite: Satellite) -> AnomalyView:
    assert anomaly.id is not None and channel.id is not None
    return AnomalyView(
        id=anomaly.id,
        satellite=satellite.name,
        channel=channel.name,
        channel_id=channel.id,
        start=anomaly.start,
        end=anomaly.end,
        ongoing=anomaly.ongoing,
        kind=anomaly.kind,
        severity=anomaly.severity,
        score=anomaly.score,
        detector=anomaly.detector,
        status=anomaly.status,
        params=dict(anomaly.params or {}),
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
    query = (
        select(Anomaly, Channel, Satellite)
        .join(Channel, col(Channel.id) == col(Anomaly.channel_id))
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
    )
    if satellite is not None:
        query = query.where(col(Satellite.name) == satellite)
    if channel is not None:
        query = query.where(col(Channel.name) == channel)
    if channel_ids is not None:
        query = query.where(col(Channel.id).in_(channel_ids))
    if start is not None:
        query = query.where(col(Anomaly.end) >= start)
    if end is not None:
        query = query.where(col(Anomaly.start) <= end)
    if kind is not None:
        query = query.where(col(Anomaly.kind) == kind)
    if min_severity is not None:
        allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
        query = query.where(col(Anomaly.severity).in_(allowed))

    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = col(Anomaly.start).desc() if newest_first else col(Anomaly.start).asc()
    rows: list[Any] = list(
        session.execute(query.order_by(order, col(Anomaly.id)).offset(offset).limit(limit)).all()
    )
    return [_anomaly_view(a, c, s) for a, c, s in rows], int(total)


def get_anomaly(session: Session, anomaly_id: int) -> AnomalyView:
    """One anomaly by id, or `NotFoundError`."""
    row: Any = session.execute(
        select(Anomaly, Channel, Satellite)
        .join(Channel, col(Channel.id) == col(Anomaly.channel_id))
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .where(col(Anomaly.id) == anomaly_id)
    ).first()
    if row is None:
        raise NotFoundError(f"anomaly {anomaly_id} does not exist")
    return _anomaly_view(*row)


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
    query = select(col(Point.ts), col(Point.value)).where(col(Point.channel_id) == channel_id)
    if start is not None:
        query = query.where(col(Point.ts) >= start)
    if end is not None:
        query = query.where(col(Point.ts) <= end)
    query = query.order_by(col(Point.ts).desc() if latest else col(Point.ts))
    if limit is not None:
        query = query.limit(limit)
    frame = pd.DataFrame(session.execute(query).all(), columns=["ts", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["value"] = frame["value"].astype(float)
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
