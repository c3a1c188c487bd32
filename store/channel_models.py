"""Per-channel models (learned profiles, versioned) and per-channel limits.

A ``ChannelModel`` row is one training run's result for one channel: the learned
parameters, the training range and quality figures, as JSON. At most one version of a
channel is ``active``; older versions are pruned to a configured number.

``params["reference"]`` (see ``ingestion.training``) records the channel's reference:
the stretch of known-normal history its detectors compare new data with (``start``,
``end``, ISO 8601 UTC), whether an operator vouched for it as normal (``vouched``), the
stretches left out because stored anomalies cover them (``excluded``) and its size
(``points``). The points themselves are read from the store when a detector is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import Anomaly
from store.types import UTCDateTime, utc_now

LIMIT_SOURCES = ("configured", "imported", "learned")
#: Key of the reference record in a model's params.
REFERENCE_KEY = "reference"


class ChannelModel(SQLModel, table=True):
    """One version of a channel's learned model."""

    __table_args__ = (UniqueConstraint("channel_id", "version", name="uq_channelmodel_version"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    version: int
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    training_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    training_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    quality: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    active: bool = False


class ChannelLimit(SQLModel, table=True):
    """Operating limits of a channel, configured or imported (learned ones live in models)."""

    channel_id: int = Field(foreign_key="channel.id", primary_key=True)
    low: float | None = None
    high: float | None = None
    source: str = Field(default="configured", max_length=20)
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )


def add_version(
    session: Session,
    channel_id: int,
    params: dict[str, Any],
    quality: dict[str, Any],
    training: tuple[datetime, datetime],
    keep: int,
) -> ChannelModel:
    """Store a new active version of the channel's model; prune to the newest ``keep``."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep!r}; the active version is always kept")
    latest = session.scalar(
        select(func.max(col(ChannelModel.version))).where(
            col(ChannelModel.channel_id) == channel_id
        )
    )
    for old in session.exec(
        select(ChannelModel).where(
            col(ChannelModel.channel_id) == channel_id, col(ChannelModel.active)
        )
    ).all():
        old.active = False
        session.add(old)
    record = ChannelModel(
        channel_id=channel_id,
        version=int(latest or 0) + 1,
        params=params,
        quality=quality,
        training_start=training[0],
        training_end=training[1],
        active=True,
    )
    session.add(record)
    session.flush()
    for stale in versions(session, channel_id)[keep:]:
        session.delete(stale)
    return record


def versions(session: Session, channel_id: int) -> list[ChannelModel]:
    """Every stored version of a channel's model, newest first."""
    return list(
        session.exec(
            select(ChannelModel)
            .where(col(ChannelModel.channel_id) == channel_id)
            .order_by(col(ChannelModel.version).desc())
        ).all()
    )


def active_model(session: Session, channel_id: int) -> ChannelModel | None:
    """The channel's model in use, or None while none was trained."""
    return session.exec(
        select(ChannelModel).where(
            col(ChannelModel.channel_id) == channel_id, col(ChannelModel.active)
        )
    ).first()


def set_limits(
    session: Session, channel_id: int, low: float | None, high: float | None, source: str
) -> ChannelLimit:
    """Set (replace) the configured or imported limits of a channel."""
    if source not in LIMIT_SOURCES:
        raise ValueError(f"source must be one of {', '.join(LIMIT_SOURCES)}, got {source!r}")
    if low is not None and high is not None and low >= high:
        raise ValueError(f"low limit {low} is not below high limit {high}; swap them")
    record = session.get(ChannelLimit, channel_id) or ChannelLimit(channel_id=channel_id)
    record.low, record.high, record.source, record.updated_at = low, high, source, utc_now()
    session.add(record)
    return record


def limits_of(session: Session, channel_id: int) -> dict[str, Any] | None:
    """The channel's limits: configured/imported ones, else the active model's learned ones."""
    record = session.get(ChannelLimit, channel_id)
    if record is not None:
        return {"low": record.low, "high": record.high, "source": record.source}
    model = active_model(session, channel_id)
    if model is not None and isinstance(model.params.get("limits"), dict):
        return dict(model.params["limits"])
    return None


def active_models(session: Session, channel_ids: Sequence[int]) -> dict[int, ChannelModel]:
    """Active models of the given channels, by channel id."""
    rows = session.exec(
        select(ChannelModel).where(
            col(ChannelModel.active), col(ChannelModel.channel_id).in_(list(channel_ids))
        )
    ).all()
    return {row.channel_id: row for row in rows}


def anomalous_stretches(
    session: Session, channel_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) of the channel's stored anomalies overlapping [start, end], oldest first.

    Anomalies an operator marked ``false_positive`` are not anomalous and are left out.
    """
    rows = session.exec(
        select(Anomaly)
        .where(
            col(Anomaly.channel_id) == channel_id,
            col(Anomaly.status) != "false_positive",
            col(Anomaly.start) <= end,
            col(Anomaly.end) >= start,
        )
        .order_by(col(Anomaly.start))
    ).all()
    return [(row.start, row.end) for row in rows]


def reference_of(model: ChannelModel | None) -> dict[str, Any] | None:
    """The reference record of a model (see the module docstring), None without one."""
    if model is None:
        return None
    record = model.params.get(REFERENCE_KEY)
    return dict(record) if isinstance(record, dict) and record.get("points") else None
