"""JSON shapes of the HTTP API that are not the agent's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from store.queries import AnomalyView, ChannelView
from store.vector import iso_z


class _UTCModel(BaseModel):
    @field_serializer("*", when_used="json")
    def _dates_with_z(self, value: Any) -> Any:
        return iso_z(value) if isinstance(value, datetime) else value


class AnomalyOut(_UTCModel):
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

    @classmethod
    def of(cls, view: AnomalyView) -> AnomalyOut:
        return cls(**view.__dict__)


class AnomalyPage(BaseModel):
    items: list[AnomalyOut]
    total: int
    limit: int
    offset: int


class ChannelOut(_UTCModel):
    id: int
    satellite: str
    name: str
    unit: str | None
    description: str | None
    points: int
    first: datetime | None
    last: datetime | None

    @classmethod
    def of(cls, view: ChannelView) -> ChannelOut:
        return cls(**view.__dict__)


class IngestRequest(BaseModel):
    satellite: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    points: list[Any] = Field(description="Objects {channel, ts (ISO 8601 or epoch ms), value}.")


class IngestResponse(BaseModel):
    satellite: str
    received: int
    inserted: int
    corrected: int
    unchanged: int
    rejected: int
    duplicates: int = Field(
        0, description="Points repeating a (channel, ts) earlier in this push; the first is kept."
    )
    anomalies_new: int | None = Field(
        description="Anomalies found on this push's points; null while detection is queued."
    )
    anomalies_updated: int | None = Field(
        description="Stored anomalies this push's points changed; null while detection is queued."
    )
    detection: Literal["done", "queued"] = Field(
        description="`done`: the points were detected before the answer (the counts above are "
        "final); `queued`: stored and waiting for the background detection stage."
    )
    errors: list[dict[str, Any]]


class AnnotationOut(_UTCModel):
    id: int
    anomaly_id: int
    author: str
    text: str
    label: str | None
    created_at: datetime

    @classmethod
    def of(cls, record: Any) -> AnnotationOut:
        return cls.model_validate(record, from_attributes=True)


class EventOut(_UTCModel):
    id: int
    satellite: str
    ts: datetime
    kind: str
    text: str

    @classmethod
    def of(cls, view: Any) -> EventOut:
        return cls(**view.__dict__)


class EventsResponse(BaseModel):
    received: int
    stored: int
    already_stored: int
    rejected: int
    errors: list[dict[str, Any]] = Field(description="{index, field, reason} per bad item.")


class SeriesPointOut(_UTCModel):
    ts: datetime
    min: float
    max: float
    count: int


class SeriesOut(_UTCModel):
    channel_id: int
    satellite: str
    channel: str
    unit: str | None
    start: datetime
    end: datetime
    bucket_s: float = Field(description="Bucket width in seconds; 0 when points are raw.")
    total_points: int = Field(description="Stored points in [start, end].")
    points: list[SeriesPointOut]
