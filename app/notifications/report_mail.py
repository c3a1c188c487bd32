"""Scheduled reports: each satellite's report of every past day or week, sent once.

A subscription with ``report_period`` ``daily`` or ``weekly`` receives, for each of its
satellites (its own, or all of its tenant's), the report of the last complete UTC day
(00:00 to 00:00) or ISO week (Monday 00:00 to Monday 00:00), as soon as that period is
over. The report goes through the outbox like incident messages (e-mail with an HTML
body, or a signed webhook), with the idempotency key
``report:<satellite id>:<period>:<first day>:sub:<subscription id>``, so a satellite's
report of one period reaches a subscriber once, whatever the restarts. The first report
a subscription receives is of the first period ending after it was created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from agent.errors import AgentError
from app.notifications.periodic import PeriodicScan
from app.reports import Report, ReportError
from store import notifications
from store.errors import StoreError
from store.models import Satellite
from store.notifications_models import REPORT_PERIODS, OutboxMessage, Subscription
from store.types import utc_now
from store.vector import iso_z

logger = logging.getLogger(__name__)

#: The report's period argument (``app.reports.parse_period``) of each schedule.
PERIOD_ARGUMENT = {"daily": "1d", "weekly": "7d"}

#: Builds the report of (tenant, satellite) over `period` (e.g. "1d") ending at `end`.
BuildReport = Callable[[str, str, datetime, str], Report]


def last_period(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The last complete UTC day or ISO week before `now`: (start, end), end excluded."""
    if period not in REPORT_PERIODS:
        raise ValueError(f"period must be one of {', '.join(REPORT_PERIODS)}, got {period!r}")
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return midnight - timedelta(days=1), midnight
    monday = midnight - timedelta(days=midnight.weekday())
    return monday - timedelta(weeks=1), monday


def report_key(satellite_id: int, period: str, start: datetime, subscription_id: int) -> str:
    """The idempotency key of one satellite's report of one period for one subscriber."""
    return f"report:{satellite_id}:{period}:{start:%Y-%m-%d}:sub:{subscription_id}"


@dataclass
class MailReport:
    """What one scan queued, skipped and failed to build."""

    queued: int = 0
    skipped: int = 0
    failed: int = 0


class ReportMailer(PeriodicScan):
    """Queues due reports in the outbox; `start` runs it in a thread, `run_once` inline."""

    thread_name = "imon-reports"
    label = "report mailer"

    def __init__(
        self,
        engine: Engine,
        build: BuildReport,
        interval_s: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.build = build
        self.interval_s = interval_s
        self.clock = clock
        super().__init__()

    @property
    def period_s(self) -> float:  # type: ignore[override]
        return self.interval_s

    def scan(self) -> None:
        """Queue what is due."""
        self.run_once()

    def run_once(self) -> MailReport:
        """Queue every report that is due and not queued yet."""
        result = MailReport()
        now = self.clock()
        with Session(self.engine) as session:
            plan = [
                (subscription, satellite)
                for subscription in notifications.report_subscriptions(session)
                for satellite in notifications.subscribed_satellites(session, subscription)
            ]
            session.expunge_all()
        built: dict[tuple[int, str, datetime], dict[str, Any] | None] = {}
        for subscription, satellite in plan:
            assert subscription.id is not None and satellite.id is not None
            period = subscription.report_period or "daily"
            start, end = last_period(period, now)
            key = report_key(satellite.id, period, start, subscription.id)
            if end <= subscription.created_at or self._queued(key):
                result.skipped += 1
                continue
            cached = (satellite.id, period, start)
            if cached not in built:
                built[cached] = self._payload(satellite, period, start, end)
            payload = built[cached]
            if payload is None:
                result.failed += 1
            elif self._enqueue(subscription, key, payload, now):
                result.queued += 1
            else:
                result.skipped += 1
        return result

    def _queued(self, key: str) -> bool:
        with Session(self.engine) as session:
            return notifications.has_message(session, key)

    def _payload(
        self, satellite: Satellite, period: str, start: datetime, end: datetime
    ) -> dict[str, Any] | None:
        """The report message's payload, or None when the report cannot be built now."""
        try:
            report = self.build(satellite.tenant, satellite.name, end, PERIOD_ARGUMENT[period])
        except (ReportError, AgentError, StoreError, ValueError, OSError) as error:
            logger.error(
                "%s report of %s (%s to %s) not built: %s",
                period,
                satellite.name,
                iso_z(start),
                iso_z(end),
                error,
            )
            return None
        return {
            "event": "report",
            "summary": f"{satellite.name}: {period} report, {iso_z(start)} to {iso_z(end)}",
            "tenant": satellite.tenant,
            "satellite": satellite.name,
            "period": period,
            "start": iso_z(start),
            "end": iso_z(end),
            "html": report.html,
        }

    def _enqueue(
        self, subscription: Subscription, key: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        message = OutboxMessage(
            incident_id=None,
            subscription_id=subscription.id,
            channel=subscription.kind,
            transition="report",
            payload={**payload, "idempotency_key": key},
            idempotency_key=key,
            created_at=now,
            next_attempt_at=now,
        )
        with Session(self.engine) as session:
            try:
                added = notifications.enqueue(session, message)
                session.commit()
            except IntegrityError:  # another process queued it between check and insert
                session.rollback()
                return False
        if added:
            logger.info("report %s queued for subscription %d", key, subscription.id)
        return added
