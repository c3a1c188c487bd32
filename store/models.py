"""SQLModel tables: the source of truth of the service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime, utc_now

ANOMALY_STATUSES = ("open", "acknowledged", "confirmed", "false_positive", "expected")


def _utc_column(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Satellite(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_satellite_tenant_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    tenant: str = Field(default="default", max_length=100)


class Channel(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("satellite_id", "name", name="uq_channel_satellite_name"),)

    id: int | None = Field(default=None, primary_key=True)
    satellite_id: int = Field(foreign_key="satellite.id", index=True)
    name: str = Field(max_length=300)
    unit: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=1000)


class Point(SQLModel, table=True):
    channel_id: int = Field(foreign_key="channel.id", primary_key=True)
    ts: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    value: float


class AnomalyBase(SQLModel):
    channel_id: int = Field(foreign_key="channel.id", index=True)
    start: datetime = _utc_column(nullable=False, index=True)
    end: datetime = _utc_column(nullable=False, index=True)
    kind: str = Field(max_length=30)
    score: float
    severity: str = Field(max_length=10)
    detector: str = Field(max_length=50)
    ongoing: bool = False
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Anomaly(AnomalyBase, table=True):
    __table_args__ = (
        UniqueConstraint("channel_id", "detector", "start", name="uq_anomaly_identity"),
        Index("ix_anomaly_channel_start", "channel_id", "start"),
        # migration 0008: overlap lookups (end >= lower, start <= upper) per channel
        Index("ix_anomaly_channel_end", "channel_id", "end", "start", "severity", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="open", max_length=20)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Checkpoint(SQLModel, table=True):
    source: str = Field(primary_key=True, max_length=300)
    channel: str = Field(primary_key=True, max_length=500)
    last_ts: datetime = _utc_column(nullable=False)


class Event(SQLModel, table=True):
    """Context for explanations: telecommands, manoeuvres, eclipses, passes."""

    __table_args__ = (UniqueConstraint("satellite_id", "ts", "kind", name="uq_event_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    satellite_id: int = Field(foreign_key="satellite.id", index=True)
    ts: datetime = _utc_column(nullable=False, index=True)
    kind: str = Field(max_length=50)
    text: str = Field(default="", max_length=2000)


class Conversation(SQLModel, table=True):
    """What a conversation in /ask resolved so far, for follow-up questions."""

    id: str = Field(primary_key=True, max_length=64)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )


ANNOTATION_LABELS = ("confirmed", "false_positive", "expected")
MAX_ANNOTATION_TEXT = 4000
MAX_ANNOTATION_AUTHOR = 200


class AnnotationBase(SQLModel):
    author: str = Field(min_length=1, max_length=MAX_ANNOTATION_AUTHOR)
    text: str = Field(default="", max_length=MAX_ANNOTATION_TEXT)
    label: str | None = Field(default=None, max_length=20)


class AnnotationCreate(AnnotationBase):
    """What an operator sends: who, what, and optionally a label for the anomaly."""

    label: Literal["confirmed", "false_positive", "expected"] | None = None

    @field_validator("author")
    @classmethod
    def _author_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("author is blank: give the operator's name or e-mail")
        return value


class AnnotationPublic(AnnotationBase):
    id: int
    anomaly_id: int
    created_at: datetime


class Annotation(AnnotationBase, table=True):
    """Operator feedback on an anomaly; a label also sets the anomaly's status."""

    id: int | None = Field(default=None, primary_key=True)
    anomaly_id: int = Field(foreign_key="anomaly.id", index=True)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )
