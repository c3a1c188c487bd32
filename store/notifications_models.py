"""Tables of incidents and proactive notifications: subscriptions, outbox, silences.

An incident groups anomalies of one satellite that overlap in time; the outbox holds
one row per message to deliver, written in the same transaction as the incident
change that caused it, so a message is never lost nor written twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime, utc_now

INCIDENT_STATUSES = ("open", "closed")
SUBSCRIPTION_KINDS = ("webhook", "email", "widget")
#: How often a subscription receives the report of each of its satellites.
REPORT_PERIODS = ("daily", "weekly")
#: Transitions of an incident that produce a message.
TRANSITIONS = ("opened", "escalated", "closed")


def _optional_utc() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


def _now_column() -> Any:
    return Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class Incident(SQLModel, table=True):
    """Anomalies of one satellite overlapping in time, across its channels.

    `start`/`end` are data times (the earliest anomaly start, the latest anomaly end);
    `severity` is the highest of its anomalies; `channels` the ids of the channels
    involved, in the order they joined.
    """

    __table_args__ = (Index("ix_incident_satellite_status", "satellite_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    satellite_id: int = Field(foreign_key="satellite.id", index=True)
    start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    severity: str = Field(max_length=10)
    status: str = Field(default="open", max_length=10)
    channels: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    opened_at: datetime = _now_column()
    closed_at: datetime | None = _optional_utc()
    acknowledged_at: datetime | None = _optional_utc()
    updated_at: datetime = _now_column()


class IncidentAnomaly(SQLModel, table=True):
    """Link of an anomaly to the one incident it belongs to."""

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    anomaly_id: int = Field(foreign_key="anomaly.id", primary_key=True, unique=True)
    added_at: datetime = _now_column()


class Subscription(SQLModel, table=True):
    """Who wants messages of a tenant's satellite (or all its satellites), and how."""

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(default="default", max_length=100, index=True)
    satellite_id: int | None = Field(default=None, foreign_key="satellite.id")
    kind: str = Field(max_length=10)
    target: str = Field(default="", max_length=2000)
    secret: str | None = Field(default=None, max_length=200)
    min_severity: str = Field(default="low", max_length=10)
    digest_s: int | None = Field(default=None)
    #: "daily" or "weekly": also send the satellites' reports; None: incidents only
    report_period: str | None = Field(default=None, max_length=10)
    created_at: datetime = _now_column()


class OutboxMessage(SQLModel, table=True):
    """One message to deliver to one subscription; `idempotency_key` makes it unique.

    Messages about an incident name it; scheduled reports (transition ``report``) do not.
    """

    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_pending", "delivered_at", "dead_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    subscription_id: int | None = Field(default=None, foreign_key="subscription.id")
    channel: str = Field(max_length=10)
    transition: str = Field(max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(max_length=200)
    attempts: int = 0
    created_at: datetime = _now_column()
    next_attempt_at: datetime = _now_column()
    delivered_at: datetime | None = _optional_utc()
    dead_at: datetime | None = _optional_utc()
    last_error: str | None = Field(default=None, max_length=1000)


class ChannelSilence(SQLModel, table=True):
    """No message about this channel until `until` (wall-clock time)."""

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = _now_column()


class MaintenanceWindow(SQLModel, table=True):
    """A planned period of a satellite: anomalies are recorded, no message is sent."""

    id: int | None = Field(default=None, primary_key=True)
    satellite_id: int = Field(foreign_key="satellite.id", index=True)
    start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(default="", max_length=500)
    created_at: datetime = _now_column()
