"""The outbox dispatcher: delivers queued messages with retries, then dead-letters them.

A background thread of the serve process scans the outbox every `poll_s` seconds.
Each message is tried until it is delivered or has failed `max_attempts` times; the
delay before the next try doubles from `backoff_s` up to `backoff_max_s`, with jitter
(a random 50-100 % of it) so that failing receivers are not hit in lock-step. The
schedule lives in the outbox rows (not in memory), which is why this is not a tenacity
loop: a restart resumes it, and a delivered message is never sent again. Subscriptions
with a digest interval get their pending messages in one batch per interval;
scheduled reports are always delivered one by one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.notifications.errors import DeliveryError
from app.notifications.periodic import PeriodicScan
from store import notifications
from store.notifications_models import OutboxMessage, Subscription
from store.types import utc_now

logger = logging.getLogger(__name__)

#: Messages handled per scan at most.
BATCH = 100


class Sender(Protocol):
    """Delivers messages of one subscription, or raises `DeliveryError`."""

    def send(
        self, subscription: Subscription, messages: list[OutboxMessage], now: datetime
    ) -> None: ...


class WidgetSender:
    """Widget messages reach browsers through `GET /stream`; there is nothing to send."""

    def send(
        self, subscription: Subscription, messages: list[OutboxMessage], now: datetime
    ) -> None:
        """Nothing to do: the stream reads the outbox."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late failed deliveries are retried."""

    max_attempts: int = 8
    backoff_s: float = 5.0
    backoff_max_s: float = 3600.0

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Delay before the next try after `attempts` failures: exponential, with jitter."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


@dataclass
class DispatchReport:
    """What one scan did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher(PeriodicScan):
    """Delivers the outbox; `start` runs it in a daemon thread, `run_once` in the caller."""

    thread_name = "imon-dispatcher"
    label = "notification dispatcher"

    def __init__(
        self,
        engine: Engine,
        senders: dict[str, Sender],
        policy: RetryPolicy | None = None,
        poll_s: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        sweep: Callable[[], Any] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.senders = senders
        self.policy = policy or RetryPolicy()
        self.poll_s = poll_s
        self.clock = clock
        self.sweep = sweep
        self.rng = rng or random.Random()
        super().__init__()

    @property
    def period_s(self) -> float:  # type: ignore[override]
        return self.poll_s

    def scan(self) -> None:
        """Sweep (when set), then deliver what is due."""
        if self.sweep is not None:
            self.sweep()
        self.run_once()

    def run_once(self) -> DispatchReport:
        """Deliver every due message once; returns what happened."""
        report = DispatchReport()
        now = self.clock()
        with Session(self.engine) as session:
            due = notifications.pending_messages(session, now, BATCH)
            for subscription_id, messages in _by_subscription(due).items():
                subscription = (
                    session.get(Subscription, subscription_id) if subscription_id else None
                )
                if subscription is None:
                    self._fail(messages, "subscription is gone", now, report, final=True)
                elif subscription.digest_s and not _digest_due(subscription, messages, now):
                    report.held += len(messages)
                    continue
                else:
                    self._deliver(subscription, messages, now, report)
                session.add_all(messages)
                session.commit()
        return report

    def _deliver(
        self,
        subscription: Subscription,
        messages: list[OutboxMessage],
        now: datetime,
        report: DispatchReport,
    ) -> None:
        reports = [[m] for m in messages if m.transition == "report"]
        others = [m for m in messages if m.transition != "report"]
        if subscription.digest_s and others:
            batches = [others, *reports]
        else:
            batches = [[m] for m in others] + reports
        sender = self.senders.get(subscription.kind)
        for batch in batches:
            try:
                if sender is None:
                    raise DeliveryError(f"no sender for {subscription.kind} messages")
                sender.send(subscription, batch, now)
            except DeliveryError as error:
                self._fail(batch, str(error), now, report)
                logger.warning(
                    "delivery to subscription %s failed (attempt %d): %s",
                    subscription.id,
                    batch[0].attempts,
                    error,
                )
                continue
            for message in batch:
                message.attempts += 1
                message.delivered_at = now
                message.last_error = None
            report.delivered += len(batch)

    def _fail(
        self,
        messages: list[OutboxMessage],
        error: str,
        now: datetime,
        report: DispatchReport,
        final: bool = False,
    ) -> None:
        report.errors.append(error)
        for message in messages:
            message.attempts += 1
            message.last_error = error[:1000]
            if final or message.attempts >= self.policy.max_attempts:
                message.dead_at = now
                report.dead += 1
                logger.error(
                    "message %s dead after %d attempt(s): %s",
                    message.idempotency_key,
                    message.attempts,
                    error,
                )
            else:
                message.next_attempt_at = now + self.policy.delay(message.attempts, self.rng)
                report.failed += 1


def _by_subscription(messages: list[OutboxMessage]) -> dict[int | None, list[OutboxMessage]]:
    grouped: dict[int | None, list[OutboxMessage]] = {}
    for message in messages:
        grouped.setdefault(message.subscription_id, []).append(message)
    return grouped


def _digest_due(subscription: Subscription, messages: list[OutboxMessage], now: datetime) -> bool:
    """A digest goes out once its oldest pending message has waited one interval."""
    oldest = min(m.created_at for m in messages)
    return now - oldest >= timedelta(seconds=subscription.digest_s or 0)
