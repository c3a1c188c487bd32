"""JSON shapes of subscriptions, maintenance windows, incidents and messages."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from app.schemas import AnomalyOut, _UTCModel
from store.incidents import IncidentView
from store.notifications_models import MaintenanceWindow, OutboxMessage, Subscription

Severity = Literal["low", "medium", "high", "critical"]
ReportPeriod = Literal["daily", "weekly"]
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
NAME = r"^[^\x00-\x1f]+$"


class SubscriptionCreate(BaseModel):
    """A customer's wish to hear about incidents of a satellite (or of all of them)."""

    tenant: str = Field("default", min_length=1, max_length=100, pattern=NAME)
    satellite: str | None = Field(
        None, min_length=1, max_length=200, description="Satellite name; none: all of them."
    )
    kind: Literal["webhook", "email", "widget"]
    target: str = Field(
        "", max_length=2000, description="Webhook URL (http/https) or e-mail address."
    )
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="Webhook key; generated when absent."
    )
    min_severity: Severity = "low"
    digest_s: int | None = Field(
        None, ge=10, le=86_400, description="Batch messages per this many seconds."
    )
    report_period: ReportPeriod | None = Field(
        None,
        description="Also send each satellite's report for every past UTC day (daily) or "
        "ISO week (weekly); e-mail and webhook only.",
    )

    @field_validator("report_period")
    @classmethod
    def _reports_need_a_target(
        cls, value: ReportPeriod | None, info: ValidationInfo
    ) -> ReportPeriod | None:
        if value is not None and info.data.get("kind") == "widget":
            raise ValueError(
                "reports are sent by e-mail or webhook, not to the widget; "
                "use kind 'email' or 'webhook', or leave report_period out"
            )
        return value

    @field_validator("target")
    @classmethod
    def _target_fits_kind(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        value = value.strip()
        if kind == "webhook":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"a webhook needs an http(s) URL with a host, got {value!r}; "
                    "e.g. https://example.org/hooks/imon"
                )
        elif kind == "email" and not EMAIL.match(value):
            raise ValueError(
                f"an e-mail subscription needs an address like ops@example.org, got {value!r}"
            )
        elif kind == "widget" and value:
            raise ValueError("a widget subscription has no target; leave it empty")
        return value


class SubscriptionOut(_UTCModel):
    id: int
    tenant: str
    satellite_id: int | None
    kind: str
    target: str
    min_severity: str
    digest_s: int | None
    report_period: str | None = None
    created_at: datetime
    secret: str | None = Field(None, description="Shown once, in the answer to its creation.")

    @classmethod
    def of(cls, item: Subscription, show_secret: bool = False) -> SubscriptionOut:
        assert item.id is not None
        return cls(
            id=item.id,
            tenant=item.tenant,
            satellite_id=item.satellite_id,
            kind=item.kind,
            target=item.target,
            min_severity=item.min_severity,
            digest_s=item.digest_s,
            report_period=item.report_period,
            created_at=item.created_at,
            secret=item.secret if show_secret else None,
        )


class MaintenanceCreate(BaseModel):
    """A planned period of a satellite during which no message is sent."""

    tenant: str = Field("default", min_length=1, max_length=100, pattern=NAME)
    satellite: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field("", max_length=500)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(f"must be after start ({start.isoformat()}), got {value.isoformat()}")
        return value


class MaintenanceOut(_UTCModel):
    id: int
    satellite_id: int
    start: datetime
    end: datetime
    reason: str

    @classmethod
    def of(cls, item: MaintenanceWindow) -> MaintenanceOut:
        assert item.id is not None
        return cls(
            id=item.id,
            satellite_id=item.satellite_id,
            start=item.start,
            end=item.end,
            reason=item.reason,
        )


class IncidentOut(_UTCModel):
    id: int
    satellite: str
    tenant: str
    start: datetime
    end: datetime
    severity: str
    status: str
    channels: list[dict[str, Any]]
    anomaly_count: int
    opened_at: datetime
    closed_at: datetime | None
    acknowledged_at: datetime | None
    updated_at: datetime
    dashboard_url: str

    @classmethod
    def of(cls, view: IncidentView) -> IncidentOut:
        fields = {k: v for k, v in view.__dict__.items() if k in cls.model_fields}
        return cls(**fields, dashboard_url=f"/dashboard/incidents/{view.id}")


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    limit: int
    offset: int


class TimelineEntry(_UTCModel):
    ts: datetime
    clock: Literal["data", "wall"]
    kind: str
    text: str


class IncidentDetail(IncidentOut):
    anomalies: list[AnomalyOut]
    timeline: list[TimelineEntry]
    links: dict[str, Any]


class MessageOut(_UTCModel):
    id: int
    incident_id: int | None = Field(description="None for a scheduled report.")
    subscription_id: int | None
    channel: str
    transition: str
    state: Literal["pending", "delivered", "dead"]
    idempotency_key: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, item: OutboxMessage) -> MessageOut:
        state: Literal["pending", "delivered", "dead"] = (
            "delivered" if item.delivered_at else "dead" if item.dead_at else "pending"
        )
        fields = {k: v for k, v in item.__dict__.items() if k in cls.model_fields}
        return cls(**fields, state=state)
