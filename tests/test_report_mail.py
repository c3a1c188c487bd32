"""Scheduled reports to subscribers: once per satellite and period, by e-mail and webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.context import ToolContext
from app.main import create_app
from app.notifications.dispatcher import Dispatcher
from app.notifications.email import EmailSender, SmtpConfig
from app.notifications.report_mail import BuildReport, ReportMailer, last_period, report_key
from app.notifications.signing import verify_signature
from app.notifications.webhook import WebhookSender
from app.reports import Report, build_report
from app.settings import Settings
from ingestion.pipeline import Pipeline, channel_by_name
from ingestion.worker import simulator_source
from store import notifications, repository
from store.notifications_models import OutboxMessage, Subscription
from store.repository import AnomalyWrite
from tests.auth_helpers import AUTH_HEADERS
from tests.notify_fakes import smtp_server, webhook_receiver

#: A Wednesday morning: the last complete day is Tuesday, the last ISO week ended Monday.
NOW = datetime(2026, 3, 4, 6, 30, tzinfo=UTC)
SECRET = "r" * 32


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("daily", datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),
        ("weekly", datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_last_period_is_the_last_complete_utc_day_or_iso_week(
    period: str, start: datetime, end: datetime
) -> None:
    assert last_period(period, NOW) == (start, end)
    assert last_period(period, end) == (start, end), "a period ends exactly at midnight"


def test_last_period_rejects_unknown_periods_and_naive_times() -> None:
    with pytest.raises(ValueError, match="period must be one of daily, weekly"):
        last_period("hourly", NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        last_period("daily", NOW.replace(tzinfo=None))


def _satellite_with_data(engine: Engine) -> int:
    """Two days of simulator data on SIM-1 and one anomaly on Tuesday; SIM-1's id."""
    source = simulator_source(seed=5, satellite="SIM-1", cadence_s=300, backfill_hours=54)
    for batch in source.poll(None, NOW):
        Pipeline(engine).ingest(batch.satellite, batch.points, detect=False)
    with Session(engine) as session:
        channel = channel_by_name(session, "SIM-1", "bus_voltage")
        assert channel is not None and channel.id is not None
        start = datetime(2026, 3, 3, 14, tzinfo=UTC)
        write = AnomalyWrite(
            "test", "spike", start, start + timedelta(minutes=10), 8.0, "high", False, {}
        )
        repository.upsert_anomalies(session, channel.id, [write])
        session.commit()
        return channel.satellite_id


def _builder(engine: Engine) -> BuildReport:
    def build(tenant: str, satellite: str, end: datetime, period: str) -> Report:
        return build_report(
            ToolContext(engine=engine, now=lambda: end, tenant=tenant), satellite, period
        )

    return build


def _subscribe(engine: Engine, satellite_id: int | None, **fields: object) -> int:
    with Session(engine) as session:
        item = notifications.add_subscription(
            session,
            Subscription(satellite_id=satellite_id, **fields),  # type: ignore[arg-type]
        )
        session.commit()
        assert item.id is not None
        return item.id


def test_reports_reach_email_and_webhook_subscribers_once_per_satellite_and_period(
    engine: Engine,
) -> None:
    satellite_id = _satellite_with_data(engine)
    created = NOW - timedelta(days=10)
    with smtp_server() as (port, inbox), webhook_receiver() as (url, received):
        mail = _subscribe(
            engine,
            satellite_id,
            kind="email",
            target="ops@example.org",
            report_period="daily",
            created_at=created,
        )
        hook = _subscribe(
            engine,
            None,
            kind="webhook",
            target=url,
            secret=SECRET,
            report_period="weekly",
            created_at=created,
        )
        _subscribe(
            engine,
            None,
            kind="email",
            target="late@example.org",
            report_period="daily",
            created_at=NOW,
        )  # joined after the last period
        _subscribe(engine, None, kind="email", target="incidents@example.org")
        senders = {
            "email": EmailSender(SmtpConfig("127.0.0.1", port)),
            "webhook": WebhookSender(5.0),
        }

        first = ReportMailer(engine, _builder(engine), clock=lambda: NOW).run_once()
        sent = Dispatcher(engine, senders, clock=lambda: NOW).run_once()
        # a restarted service, an hour later: nothing is due again
        later = NOW + timedelta(hours=1)
        again = ReportMailer(engine, _builder(engine), clock=lambda: later).run_once()
        resent = Dispatcher(engine, senders, clock=lambda: later).run_once()

    assert (first.queued, first.failed) == (2, 0)
    assert again.queued == 0 and resent.delivered == 0
    assert sent.delivered == 2 and sent.errors == []
    with Session(engine) as session:
        keys = set(session.scalars(select(OutboxMessage.idempotency_key)).all())
        total = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert keys == {
        report_key(satellite_id, "daily", datetime(2026, 3, 3, tzinfo=UTC), mail),
        report_key(satellite_id, "weekly", datetime(2026, 2, 23, tzinfo=UTC), hook),
    }
    assert total == 2

    assert len(inbox) == 1
    email: Message = inbox[0]
    assert email["To"] == "ops@example.org"
    assert "SIM-1: daily report, 2026-03-03T00:00:00Z to 2026-03-04T00:00:00Z" in email["Subject"]
    parts = {part.get_content_type(): part for part in email.walk()}
    body = parts["text/html"].get_payload(decode=True).decode()
    assert "SIM-1: monitoring report" in body and "bus_voltage" in body
    assert 'src="cid:' in body and "data:image/png" not in body
    assert parts["image/png"].get_payload(decode=True).startswith(b"\x89PNG")

    assert len(received.requests) == 1
    headers, raw = received.requests[0]
    assert verify_signature(
        SECRET, headers["X-IMON-Timestamp"], raw, headers["X-IMON-Signature"], NOW
    )
    payload = json.loads(raw)
    assert payload["event"] == "report" and payload["period"] == "weekly"
    assert (payload["start"], payload["end"]) == ("2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z")
    assert "SIM-1: monitoring report" in payload["html"]
    assert headers["Idempotency-Key"] == payload["idempotency_key"]


def test_report_subscriptions_are_validated_and_shown(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as client:
        widget = client.post("/subscriptions", json={"kind": "widget", "report_period": "daily"})
        hourly = client.post(
            "/subscriptions",
            json={"kind": "email", "target": "ops@example.org", "report_period": "hourly"},
        )
        weekly = client.post(
            "/subscriptions",
            json={"kind": "email", "target": "ops@example.org", "report_period": "weekly"},
        )
        listed = client.get("/subscriptions").json()

    assert widget.status_code == 422 and "e-mail or webhook" in widget.text
    assert widget.json()["detail"][0]["loc"][-1] == "report_period"
    assert hourly.status_code == 422 and hourly.json()["detail"][0]["loc"][-1] == "report_period"
    assert weekly.status_code == 201 and weekly.json()["report_period"] == "weekly"
    assert [s["report_period"] for s in listed] == ["weekly"]
