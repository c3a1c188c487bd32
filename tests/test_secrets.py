"""Placeholder secrets stop start-up outside development; secrets never reach logs or errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.main import create_app
from app.notifications.dispatcher import DeliveryError
from app.notifications.email import EmailSender, SmtpConfig
from app.notifications.webhook import WebhookSender
from app.secret_policy import PlaceholderSecretError, placeholder_reason
from app.settings import Settings
from store.keys import create_key
from store.notifications_models import OutboxMessage, Subscription
from tests.notify_fakes import smtp_server, webhook_receiver

ADMIN = "Adm1n-Zq8wLx4Rt0Vn6Kp2Hs9J"
SMTP_PASSWORD = "Smtp-Pw-7dQe2Rz9Lk4Xv1Nb"
WEBHOOK_SECRET = "Whk-Sc-3mTy8Ua5Wp0Ce6Gj"
SESSION_SECRET = "Sess-Kx5Vb2Nm9Qw4Er7Ty1U"
WRONG_KEY = "imon_0123abcd_Wr0ngK3y-but-looks-real-5Fh8"
SECRETS = (ADMIN, SMTP_PASSWORD, WEBHOOK_SECRET, SESSION_SECRET, WRONG_KEY)


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "changeme-changeme-1234",
        "secret",
        "password1234567890",
        "x" * 40,
        "my-example-key-that-is-long",
        "supersecretpassword123",
        "admin-admin-admin-admin",
    ],
)
def test_obvious_placeholders_are_recognised(value: str) -> None:
    assert placeholder_reason(value) is not None


@pytest.mark.parametrize("value", [ADMIN, SMTP_PASSWORD, "test-admin-key-4f1c9a7e2b6d8035"])
def test_random_secrets_are_accepted(value: str) -> None:
    assert placeholder_reason(value) is None


@pytest.mark.parametrize(
    ("setting", "env_name"),
    [
        ("admin_key", "IMON_ADMIN_KEY"),
        ("smtp_password", "IMON_SMTP_PASSWORD"),
        ("notify_secret", "IMON_NOTIFY_SECRET"),
        ("session_secret", "IMON_SESSION_SECRET"),
    ],
)
def test_production_refuses_a_placeholder_naming_the_setting(setting: str, env_name: str) -> None:
    with pytest.raises(PlaceholderSecretError) as refused:
        Settings(env="production", **{setting: SecretStr("changeme-now-please")})
    assert env_name in str(refused.value) and "IMON_ENV=development" in str(refused.value)
    assert "changeme-now-please" not in str(refused.value)
    development = Settings(env="development", **{setting: SecretStr("changeme")})
    assert getattr(development, setting).get_secret_value() == "changeme"


def test_production_start_refuses_a_stored_placeholder_webhook_secret(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        session.add(Subscription(kind="webhook", target="http://127.0.0.1:9/", secret="secret"))
        session.commit()
    settings = _production(engine, tmp_path)

    with pytest.raises(PlaceholderSecretError) as refused, TestClient(create_app(settings)):
        pass

    assert "webhook secret of subscription" in str(refused.value)


def _production(engine: Engine, home: Path) -> Settings:
    return Settings(
        env="production",
        home=home,
        database_url=engine.url.render_as_string(hide_password=False),
        worker=False,
        index=False,
        notify_dispatch=False,
        admin_key=SecretStr(ADMIN),
        session_secret=SecretStr(SESSION_SECRET),
        smtp_password=SecretStr(SMTP_PASSWORD),
    )


@pytest.fixture
def production(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    with TestClient(create_app(_production(engine, tmp_path))) as client:
        yield client, engine


def _message(subscription: Subscription, channel: str) -> OutboxMessage:
    payload: dict[str, Any] = {
        "summary": "weekly report",
        "satellite": "SAT-1",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-08T00:00:00Z",
        "html": "<p>report</p>",
    }
    return OutboxMessage(
        subscription_id=subscription.id,
        channel=channel,
        transition="report",
        payload=payload,
        idempotency_key=f"test-{channel}",
    )


def test_no_secret_reaches_a_log_or_an_error(
    production: tuple[TestClient, Engine], caplog: pytest.LogCaptureFixture
) -> None:
    client, engine = production
    caplog.set_level(logging.DEBUG)
    answers = []
    with Session(engine) as session:
        key = create_key(session, "a", ["read", "admin"]).key
        session.commit()
    admin = {"X-API-Key": ADMIN}

    # keys: a wrong one, the admin one, a tenant's
    answers.append(client.get("/anomalies", headers={"X-API-Key": WRONG_KEY}))
    answers.append(client.get("/anomalies", headers={"Authorization": f"Bearer {WRONG_KEY}"}))
    answers.append(client.get("/anomalies", headers=admin))
    answers.append(client.get("/anomalies", headers={"X-API-Key": key}))
    # a webhook secret in bodies that fail validation, and in one that is accepted
    bad = {"kind": "pager", "target": "x", "secret": WEBHOOK_SECRET}
    answers.append(client.post("/subscriptions", json=bad, headers=admin))
    answers.append(client.post("/subscriptions", json={"secret": WEBHOOK_SECRET}, headers=admin))
    placeholder = {"kind": "webhook", "target": "http://127.0.0.1:9/h", "secret": "x" * 20}
    answers.append(client.post("/subscriptions", json=placeholder, headers=admin))
    with webhook_receiver(status=500) as (url, _received):
        body = {"kind": "webhook", "target": url, "secret": WEBHOOK_SECRET}
        created = client.post("/subscriptions", json=body, headers=admin)
        assert created.status_code == 201, created.text
        hook = Subscription(id=created.json()["id"], kind="webhook", target=url)
        hook.secret = WEBHOOK_SECRET
        with pytest.raises(DeliveryError) as webhook_failed:
            WebhookSender(5.0).send(hook, [_message(hook, "webhook")], datetime.now(UTC))
    # an SMTP server without AUTH: the login with the password fails
    with smtp_server() as (port, _inbox):
        config = SmtpConfig("127.0.0.1", port, user="imon", password=SMTP_PASSWORD)
        mail = Subscription(id=99, kind="email", target="ops@example.org")
        with pytest.raises(DeliveryError) as smtp_failed:
            EmailSender(config).send(mail, [_message(mail, "email")], datetime.now(UTC))

    assert [a.status_code for a in answers[:4]] == [401, 401, 200, 200]
    assert all(a.status_code == 422 for a in answers[4:]), [a.text for a in answers[4:]]
    logging.getLogger("test").warning(
        "delivery failed: %s; %s", webhook_failed.value, smtp_failed.value
    )
    texts = [a.text for a in answers] + [str(webhook_failed.value), str(smtp_failed.value)]
    for secret in SECRETS:
        assert secret not in caplog.text, secret
        assert not any(secret in text for text in texts), secret
