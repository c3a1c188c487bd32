"""Incidents, the outbox and its delivery (webhook, SMTP) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.notifications.dispatcher import Dispatcher, RetryPolicy, Sender, WidgetSender
from app.notifications.email import EmailSender, SmtpConfig
from app.notifications.metrics import NotificationCollector
from app.notifications.signing import LinkSigner, verify_signature
from app.notifications.webhook import WebhookSender
from ingestion.incident_messages import LinkConfig, OutboxNotifier
from ingestion.incidents import IncidentTracker
from store import notifications, repository
from store.models import Anomaly
from store.notifications_models import (
    Incident,
    IncidentAnomaly,
    MaintenanceWindow,
    OutboxMessage,
    Subscription,
)
from store.repository import AnomalyWrite
from tests.notify_fakes import smtp_server, webhook_receiver

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
QUIET = timedelta(minutes=15)
SECRET = "s" * 32


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    engine: Engine
    clock: Clock
    tracker: IncidentTracker
    channels: dict[str, int]
    satellite_id: int

    def anomaly(
        self, channel: str, start_min: float, end_min: float, severity: str = "medium"
    ) -> int:
        """Store an anomaly and group it, as the pipeline does; returns its id."""
        anomaly_id = self.store(channel, start_min, end_min, severity)
        self.tracker.record([anomaly_id])
        return anomaly_id

    def store(self, channel: str, start_min: float, end_min: float, severity: str) -> int:
        """Store an anomaly without grouping it; returns its id."""
        with Session(self.engine) as session:
            written = repository.upsert_anomalies(
                session,
                self.channels[channel],
                [
                    AnomalyWrite(
                        detector="test",
                        kind="level_shift",
                        start=T0 + timedelta(minutes=start_min),
                        end=T0 + timedelta(minutes=end_min),
                        score=5.0,
                        severity=severity,
                        ongoing=False,
                        params={},
                    )
                ],
            )
            session.commit()
            anomaly_id = written[0][0].id
        assert anomaly_id is not None
        return anomaly_id

    def subscribe(self, kind: str, target: str = "", **extra: object) -> int:
        with Session(self.engine) as session:
            item = notifications.add_subscription(
                session,
                Subscription(
                    kind=kind,
                    target=target,
                    secret=SECRET,
                    **extra,  # type: ignore[arg-type]
                ),
            )
            session.commit()
            assert item.id is not None
            return item.id

    def messages(self) -> list[OutboxMessage]:
        with Session(self.engine) as session:
            return notifications.list_messages(session, after_id=0, limit=1000)

    def dispatcher(self, senders: dict[str, Sender], attempts: int = 5) -> Dispatcher:
        return Dispatcher(
            self.engine,
            senders,
            RetryPolicy(max_attempts=attempts, backoff_s=1.0, backoff_max_s=10.0),
            clock=self.clock,
            rng=random.Random(0),
        )


@pytest.fixture
def world(engine: Engine) -> World:
    clock = Clock()
    signer = LinkSigner("k" * 32)
    notifier = OutboxNotifier(
        LinkConfig("http://127.0.0.1:8000", signer.sign),
        explain=lambda anomaly_id, tenant: f"a stuck sensor (anomaly {anomaly_id})",
        clock=clock,
    )
    tracker = IncidentTracker(engine, QUIET, notifier, clock=clock)
    with Session(engine) as session:
        satellite = repository.get_or_create_satellite(session, "SAT-1")
        channels = {
            name: repository.get_or_create_channel(session, satellite, name).id
            for name in ("BAT_V", "TEMP", "GYRO")
        }
        session.commit()
        assert satellite.id is not None
        return World(engine, clock, tracker, channels, satellite.id)  # type: ignore[arg-type]


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_injected_incident_sends_one_signed_webhook_and_one_email(world: World) -> None:
    with webhook_receiver() as (url, received), smtp_server() as (port, inbox):
        world.subscribe("webhook", url)
        world.subscribe("email", "ops@example.org")
        first = world.store("BAT_V", 0, 10, "medium")
        world.tracker.record([first, world.store("TEMP", 5, 12, "medium")])
        senders: dict[str, Sender] = {
            "webhook": WebhookSender(5.0),
            "email": EmailSender(SmtpConfig("127.0.0.1", port)),
        }
        dispatcher = world.dispatcher(senders)
        report = dispatcher.run_once()
        again = dispatcher.run_once()

    assert report.delivered == 2 and again.delivered == 0
    assert len(received.requests) == 1
    headers, body = received.requests[0]
    assert verify_signature(
        SECRET, headers["X-IMON-Timestamp"], body, headers["X-IMON-Signature"], world.clock.now
    )
    assert not verify_signature(
        SECRET,
        headers["X-IMON-Timestamp"],
        body + b" ",
        headers["X-IMON-Signature"],
        world.clock.now,
    )
    payload = json.loads(body)
    assert headers["Idempotency-Key"] == payload["idempotency_key"]
    assert payload["event"] == "incident.opened"
    assert payload["incident"]["start"] == "2024-05-01T12:00:00Z"
    assert [c["name"] for c in payload["incident"]["channels"]] == ["BAT_V", "TEMP"]
    assert payload["explanation"] == f"a stuck sensor (anomaly {first})"
    assert payload["links"]["dashboard"].endswith(
        f"/dashboard/incidents/{payload['incident']['id']}"
    )
    assert "/ack?token=" in payload["links"]["acknowledge"]
    assert len(inbox) == 1
    email = inbox[0]
    assert "incident #" in email["Subject"] and "opened" in email["Subject"]
    types = sorted(part.get_content_type() for part in email.walk())
    assert "text/plain" in types and "text/html" in types
    assert _count(world.engine, Incident) == 1 and _count(world.engine, IncidentAnomaly) == 2


def test_failing_webhook_is_retried_with_backoff_then_dead_lettered(world: World) -> None:
    with webhook_receiver(status=500) as (url, received):
        world.subscribe("webhook", url)
        world.anomaly("BAT_V", 0, 10)
        dispatcher = world.dispatcher({"webhook": WebhookSender(5.0)}, attempts=3)
        first = dispatcher.run_once()
        too_early = dispatcher.run_once()
        reports = []
        for _ in range(2):
            world.clock.now += timedelta(seconds=11)
            reports.append(dispatcher.run_once())
        world.clock.now += timedelta(hours=1)
        after_death = dispatcher.run_once()

    message = world.messages()[0]
    assert first.failed == 1 and too_early.failed == 0, "a retry waits for its backoff"
    assert len(received.requests) == 3
    assert message.attempts == 3 and message.dead_at is not None
    assert message.last_error is not None and "HTTP 500" in message.last_error
    assert reports[-1].dead == 1 and after_death.delivered == after_death.failed == 0
    metrics = {m.name: m.samples[0].value for m in NotificationCollector(world.engine).collect()}
    assert metrics["imon_notifications_dead"] == 1.0
    assert metrics["imon_notification_attempts"] == 3.0


def test_restarted_dispatcher_and_tracker_send_nothing_twice(world: World) -> None:
    with webhook_receiver() as (url, received):
        world.subscribe("webhook", url)
        anomaly_id = world.anomaly("BAT_V", 0, 10)
        world.dispatcher({"webhook": WebhookSender(5.0)}).run_once()
        fresh_tracker = IncidentTracker(
            world.engine, QUIET, world.tracker.on_transitions, clock=world.clock
        )
        fresh_tracker.record([anomaly_id])
        world.clock.now += timedelta(minutes=5)
        restarted = world.dispatcher({"webhook": WebhookSender(5.0)}).run_once()

    assert len(received.requests) == 1
    assert restarted.delivered == 0
    assert len(world.messages()) == 1


def test_growth_in_severity_sends_one_update(world: World) -> None:
    world.subscribe("widget")
    world.anomaly("BAT_V", 0, 10, "medium")
    world.anomaly("TEMP", 4, 11, "high")
    world.anomaly("GYRO", 5, 12, "high")
    world.anomaly("GYRO", 6, 8, "low")

    transitions = [m.transition for m in world.messages()]
    assert transitions == ["opened", "escalated"]
    assert world.messages()[1].payload["incident"]["severity"] == "high"
    assert _count(world.engine, Incident) == 1


def test_quiet_in_data_time_closes_the_incident_with_one_message(world: World) -> None:
    world.subscribe("widget")
    world.anomaly("BAT_V", 0, 10)
    not_yet = world.tracker.advance("default", "SAT-1", T0 + timedelta(minutes=20))
    closed = world.tracker.advance("default", "SAT-1", T0 + timedelta(minutes=26))
    again = world.tracker.advance("default", "SAT-1", T0 + timedelta(minutes=40))
    world.anomaly("BAT_V", 60, 61)

    assert not_yet == [] and [t.kind for t in closed] == ["closed"] and again == []
    assert [m.transition for m in world.messages()] == ["opened", "closed", "opened"]
    assert _count(world.engine, Incident) == 2


def test_wall_clock_closes_an_incident_when_no_data_arrives(world: World) -> None:
    world.subscribe("widget")
    world.anomaly("BAT_V", 0, 10)
    early = world.tracker.close_idle(world.clock.now + timedelta(minutes=5))
    late = world.tracker.close_idle(world.clock.now + QUIET)

    assert early == [] and [t.kind for t in late] == ["closed"]
    assert [m.transition for m in world.messages()] == ["opened", "closed"]


def test_maintenance_window_suppresses_messages_but_keeps_anomalies(world: World) -> None:
    world.subscribe("widget")
    with Session(world.engine) as session:
        notifications.add_maintenance(
            session,
            MaintenanceWindow(
                satellite_id=world.satellite_id,
                start=T0 - timedelta(hours=1),
                end=T0 + timedelta(hours=1),
            ),
        )
        session.commit()
    world.anomaly("BAT_V", 0, 10, "critical")
    world.tracker.advance("default", "SAT-1", T0 + timedelta(hours=2))
    world.anomaly("BAT_V", 180, 181, "high")

    assert _count(world.engine, Anomaly) == 2 and _count(world.engine, Incident) == 2
    messages = world.messages()
    assert len(messages) == 1, "only the incident after the window is told"
    assert messages[0].payload["incident"]["start"] == "2024-05-01T15:00:00Z"


@pytest.mark.parametrize(
    ("silenced", "expected"), [(["BAT_V"], 0), (["GYRO"], 1)], ids=["own", "other"]
)
def test_silenced_channel_sends_no_message(
    world: World, silenced: list[str], expected: int
) -> None:
    world.subscribe("widget")
    with Session(world.engine) as session:
        for name in silenced:
            notifications.silence_channel(
                session, world.channels[name], world.clock.now + timedelta(minutes=30)
            )
        session.commit()
    world.anomaly("BAT_V", 0, 10)
    assert len(world.messages()) == expected


def test_min_severity_waits_for_escalation_and_digest_batches(world: World) -> None:
    with webhook_receiver() as (url, received):
        world.subscribe("webhook", url, min_severity="high", digest_s=60)
        world.anomaly("BAT_V", 0, 10, "low")
        world.anomaly("TEMP", 2, 9, "critical")
        world.anomaly("BAT_V", 100, 101, "critical")
        dispatcher = world.dispatcher({"webhook": WebhookSender(5.0)})
        held = dispatcher.run_once()
        world.clock.now += timedelta(seconds=61)
        sent = dispatcher.run_once()

    assert held.held == 2 and held.delivered == 0
    assert sent.delivered == 2 and len(received.requests) == 1
    body = json.loads(received.requests[0][1])
    assert body["event"] == "digest"
    assert [m["event"] for m in body["messages"]] == ["incident.opened", "incident.opened"]
    assert body["messages"][0]["incident"]["severity"] == "critical"


def test_widget_messages_are_delivered_without_network(world: World) -> None:
    world.subscribe("widget")
    world.anomaly("BAT_V", 0, 10)
    report = world.dispatcher({"widget": WidgetSender()}).run_once()
    assert report.delivered == 1 and world.messages()[0].delivered_at == world.clock.now


def test_signature_outside_the_replay_window_is_rejected() -> None:
    body = b'{"a":1}'
    now = datetime(2030, 1, 1, tzinfo=UTC)
    stamp = str(int(now.timestamp()))
    from app.notifications.signing import sign_webhook

    signature = sign_webhook(SECRET, stamp, body)
    assert verify_signature(SECRET, stamp, body, signature, now + timedelta(seconds=299))
    assert not verify_signature(SECRET, stamp, body, signature, now + timedelta(seconds=301))
    assert not verify_signature("other" * 8, stamp, body, signature, now)
    assert not verify_signature(SECRET, "not-a-number", body, signature, now)
