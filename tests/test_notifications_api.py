"""HTTP endpoints of incidents and notifications, the SSE stream, an end-to-end run."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape, unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.main import create_app
from app.notifications.email import compose
from app.notifications.signing import verify_signature
from app.notifications.stream import CLIENTS
from app.settings import Settings
from store import repository
from store.notifications_models import OutboxMessage
from store.repository import AnomalyWrite
from tests.auth_helpers import AUTH_HEADERS
from tests.notify_fakes import free_port, webhook_receiver

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=tmp_path, database_url=url, worker=False, index=False, notify_dispatch=False
    )
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


def _incident(app: Any, severity: str = "high", channel: str = "BAT_V") -> int:
    """Store an anomaly on SAT-1 and group it with the app's tracker; the incident's id."""
    services = app.state.services
    with Session(services.engine) as session:
        satellite = repository.get_or_create_satellite(session, "SAT-1")
        channel_id = repository.get_or_create_channel(session, satellite, channel).id
        assert channel_id is not None
        written = repository.upsert_anomalies(
            session,
            channel_id,
            [
                AnomalyWrite(
                    "test", "spike", T0, T0 + timedelta(minutes=5), 9.0, severity, False, {}
                )
            ],
        )
        session.commit()
        anomaly_id = written[0][0].id
    assert anomaly_id is not None
    services.pipeline.incidents.record([anomaly_id])
    return anomaly_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "target": "ftp://example.org/x"}, "target"),
        ({"kind": "email", "target": "not-an-address"}, "target"),
        ({"kind": "widget", "target": "https://example.org"}, "target"),
        ({"kind": "pager", "target": ""}, "kind"),
        ({"kind": "widget", "min_severity": "urgent"}, "min_severity"),
        ({"kind": "widget", "digest_s": 1}, "digest_s"),
        ({"kind": "webhook", "target": "https://example.org/h", "secret": "short"}, "secret"),
    ],
)
def test_bad_subscription_input_gets_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/subscriptions", json=body)
    assert response.status_code == 422, response.text
    locations = [error["loc"][-1] for error in response.json()["detail"]]
    assert field in locations, response.text


def test_subscription_to_an_unknown_satellite_is_refused(client: TestClient) -> None:
    response = client.post("/subscriptions", json={"kind": "widget", "satellite": "NOPE"})
    assert response.status_code == 422 and "satellite" in response.json()["detail"]


def test_subscriptions_are_created_listed_and_deleted(client: TestClient) -> None:
    created = client.post(
        "/subscriptions", json={"kind": "webhook", "target": "https://example.org/hook"}
    )
    listed = client.get("/subscriptions").json()
    deleted = client.delete(f"/subscriptions/{created.json()['id']}")
    missing = client.delete(f"/subscriptions/{created.json()['id']}")

    assert created.status_code == 201 and len(created.json()["secret"]) >= 32
    assert [s["secret"] for s in listed] == [None], "the secret is shown once"
    assert deleted.status_code == 204 and missing.status_code == 404
    assert client.get("/subscriptions").json() == []


def test_incident_endpoints_ack_silence_and_message_log(client: TestClient) -> None:
    client.post("/subscriptions", json={"kind": "widget"})
    _incident(client.app)
    page = client.get("/incidents").json()
    incident_id = page["items"][0]["id"]
    detail = client.get(f"/incidents/{incident_id}").json()
    bad_ack = client.post(f"/incidents/{incident_id}/ack", params={"token": "x" * 32})
    ack = client.post(detail["links"]["acknowledge"])
    silence = client.post(detail["links"]["silence"]["BAT_V"])
    forged = client.post(f"/channels/{detail['channels'][0]['id']}/silence?token=abc")
    log = client.get("/notifications").json()
    metrics = client.get("/metrics").text

    assert page["total"] == 1 and page["items"][0]["status"] == "open"
    assert detail["start"] == "2024-05-01T12:00:00Z" and detail["severity"] == "high"
    assert [a["kind"] for a in detail["anomalies"]] == ["spike"]
    assert [e["kind"] for e in detail["timeline"]][:2] == ["opened", "anomaly"]
    assert bad_ack.status_code == 403 and "token" in bad_ack.json()["detail"]
    assert ack.status_code == 200 and ack.json()["acknowledged_at"] is not None
    assert silence.status_code == 200 and silence.json()["until"].endswith("Z")
    assert forged.status_code == 403
    assert [m["transition"] for m in log] == ["opened"] and log[0]["state"] == "pending"
    assert "imon_notifications_pending 1.0" in metrics
    assert client.get("/incidents/999").status_code == 404


def test_maintenance_windows_are_validated_stored_and_listed(client: TestClient) -> None:
    _incident(client.app)
    window = {"satellite": "SAT-1", "start": "2024-05-01T10:00:00Z", "end": "2024-05-01T14:00Z"}
    created = client.post("/maintenance", json=window)
    backwards = client.post("/maintenance", json={**window, "end": "2024-05-01T09:00:00Z"})
    naive = client.post("/maintenance", json={**window, "start": "2024-05-01T10:00:00"})

    assert created.status_code == 201, created.text
    assert client.get("/maintenance", params={"satellite": "SAT-1"}).json()[0]["end"] == (
        "2024-05-01T14:00:00Z"
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"][-1] == "end"
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"][-1] == "start"


class _Server:
    """The app served by uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return f"http://127.0.0.1:{self.port}"
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _wait(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_stream_sends_an_incident_event_and_ends_when_the_client_leaves(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    app = create_app(settings)
    with (
        _Server(app) as base,
        httpx.Client(base_url=base, timeout=20, headers=AUTH_HEADERS) as http,
    ):
        with http.stream("GET", "/stream", params={"poll_s": 0.1}) as response:
            lines = response.iter_lines()
            assert "event: ready" in next(lines)
            assert _wait(lambda: CLIENTS.count == 1)
            _incident(app)
            events = []
            for line in lines:
                if line.startswith("event: incident"):
                    events.append(json.loads(next(lines).removeprefix("data: ")))
                    break
        left = _wait(lambda: CLIENTS.count == 0, timeout=10)

    assert events and events[0]["satellite"] == "SAT-1" and events[0]["status"] == "open"
    assert left, "the server-side generator must stop when the client disconnects"


def test_pushed_points_with_a_level_shift_reach_a_signed_webhook(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, worker=False, index=False, notify_poll_s=0.2, detector_window=400
    )
    app = create_app(settings)
    rng = np.random.default_rng(3)
    values = np.sin(np.arange(500) / 15) + rng.normal(0, 0.05, 500)
    values[400:] += 6.0
    points = [
        {"channel": "BAT_V", "ts": (T0 + timedelta(seconds=10 * i)).isoformat(), "value": v}
        for i, v in enumerate(values.tolist())
    ]
    with webhook_receiver() as (hook, received), _Server(app) as base:
        with httpx.Client(base_url=base, timeout=120, headers=AUTH_HEADERS) as http:
            created = http.post("/subscriptions", json={"kind": "webhook", "target": hook}).json()
            pushed = http.post("/ingest", json={"satellite": "SAT-1", "points": points})
            incidents = http.get("/incidents").json()
            log = http.get("/notifications").json()
            delivered = _wait(lambda: len(received.requests) >= len(log) > 0)
            time.sleep(0.5)
            log = http.get("/notifications").json()

    assert pushed.status_code == 200 and pushed.json()["anomalies_new"] > 0
    events = [json.loads(body)["event"] for _, body in received.requests]
    assert delivered and len(received.requests) == len(log)
    assert events.count("incident.opened") == incidents["total"] > 0, events
    keys = [headers["Idempotency-Key"] for headers, _ in received.requests]
    assert len(set(keys)) == len(keys), "one message per incident, never twice"
    for headers, body in received.requests:
        assert verify_signature(
            created["secret"], headers["X-IMON-Timestamp"], body, headers["X-IMON-Signature"]
        )
    assert all(m["state"] == "delivered" for m in log)


def test_links_in_messages_open_a_confirmation_page_whose_button_acts(
    client: TestClient,
) -> None:
    client.post("/subscriptions", json={"kind": "widget"})
    _incident(client.app)
    message = client.get("/notifications").json()[0]
    links = message["payload"]["links"]
    email = compose(
        "imon@localhost",
        "ops@example.org",
        [OutboxMessage(payload=message["payload"], idempotency_key=message["idempotency_key"])],
        None,
    )
    email_text = email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    email_html = email.get_body(("html",)).get_content()  # type: ignore[union-attr]
    ack_link = urlsplit(links["acknowledge"])
    silence_link = urlsplit(links["silence"]["BAT_V"])
    mail_client = TestClient(client.app)  # no API key: a click in an e-mail client
    html = {"Accept": "text/html,application/xhtml+xml"}

    shown = mail_client.get(f"{ack_link.path}?{ack_link.query}")
    forged = mail_client.get(f"{ack_link.path}?token={'0' * 32}")
    incident_id = int(ack_link.path.split("/")[2])
    still_open = client.get(f"/incidents/{incident_id}").json()["acknowledged_at"]
    action = re.search(r'<form method="post" action="([^"]+)"', shown.text)
    assert action is not None
    done = mail_client.post(unescape(action.group(1)), headers=html)
    again = mail_client.get(f"{ack_link.path}?{ack_link.query}")
    silence_page = mail_client.get(f"{silence_link.path}?{silence_link.query}")
    silence_action = re.search(r'action="([^"]+)"', silence_page.text)
    assert silence_action is not None
    silenced = mail_client.post(unescape(silence_action.group(1)))

    assert f"Acknowledge (opens a page to confirm): {links['acknowledge']}" in email_text
    assert escape(links["acknowledge"]) in email_html
    assert escape(links["silence"]["BAT_V"]) in email_html and "(POST)" not in email_text
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    assert "SAT-1" in shown.text and "BAT_V" in shown.text and ">Acknowledge<" in shown.text
    assert still_open is None, "opening the link (a GET) changes nothing"
    assert forged.status_code == 403 and "not valid" in forged.text
    assert (
        parse_qs(urlsplit(unescape(action.group(1))).query)["token"]
        == parse_qs(ack_link.query)["token"]
    )
    assert done.status_code == 200 and "acknowledged" in done.text
    assert client.get(f"/incidents/{incident_id}").json()["acknowledged_at"] is not None
    assert "Already acknowledged" in again.text
    assert silence_page.status_code == 200 and "Silence for 60 minutes" in silence_page.text
    assert silenced.status_code == 200 and silenced.json()["until"].endswith("Z")
