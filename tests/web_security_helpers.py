"""Shared set-up of the browser-security tests: two tenants' data, keys, a login."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.main import create_app
from app.settings import Settings
from store.keys import create_key, revoke_key
from store.models import Anomaly, Channel, Point, Satellite
from store.notifications_models import Incident, IncidentAnomaly

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PORTAL = "https://portal.example"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Web:
    app: object
    settings: Settings
    engine: Engine
    keys: dict[str, str]
    ids: dict[str, int]

    def client(self, **kwargs: object) -> TestClient:
        """A client with no key and its own cookie jar; redirects are not followed."""
        return TestClient(self.app, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def seed(engine: Engine, tenant: str, name: str) -> dict[str, int]:
    with Session(engine) as session:
        satellite = Satellite(name=name, tenant=tenant)
        session.add(satellite)
        session.flush()
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name="BAT_V", unit="V")
        session.add(channel)
        session.flush()
        assert channel.id is not None
        for minute in range(60):
            ts = T0 + timedelta(minutes=minute)
            session.add(Point(channel_id=channel.id, ts=ts, value=float(minute == 30)))
        anomaly = Anomaly(
            channel_id=channel.id,
            start=T0 + timedelta(minutes=30),
            end=T0 + timedelta(minutes=31),
            kind="spike",
            score=9.0,
            severity="high",
            detector="test",
        )
        session.add(anomaly)
        session.flush()
        incident = Incident(
            satellite_id=satellite.id,
            start=anomaly.start,
            end=anomaly.end,
            severity="high",
            status="open",
            channels=[channel.id],
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None and anomaly.id is not None
        session.add(IncidentAnomaly(incident_id=incident.id, anomaly_id=anomaly.id))
        session.commit()
        assert anomaly.id is not None and incident.id is not None
        return {"channel": channel.id, "anomaly": anomaly.id, "incident": incident.id}


@pytest.fixture(name="web")
def web_fixture(engine: Engine, tmp_path: Path) -> Iterator[Web]:
    """Tenants a and b with data, keys of a (admin, read, widget, revoked) and of b."""
    settings = Settings(
        home=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        worker=False,
        index=False,
        notify_dispatch=False,
        session_secret=None,
    )
    ids = seed(engine, "a", "A-SAT")
    ids.update({f"b_{k}": v for k, v in seed(engine, "b", "B-SAT").items()})
    with Session(engine) as session:
        keys = {
            "admin": create_key(session, "a", ["read", "ask", "ingest", "admin"]).key,
            "read": create_key(session, "a", ["read"]).key,
            "b": create_key(session, "b", ["read", "admin"]).key,
            "widget": create_key(
                session, "a", ["read", "ask"], allowed_origins=[PORTAL], kind="widget"
            ).key,
        }
        revoked = create_key(session, "a", ["read", "admin"])
        session.flush()
        assert revoked.record.id is not None
        revoke_key(session, revoked.record.id)
        keys["revoked"] = revoked.key
        session.commit()
    app = create_app(settings)
    with TestClient(app):  # runs the lifespan once for every client of the test
        yield Web(app, settings, engine, keys, ids)


def login(web: Web, key: str, client: TestClient | None = None) -> TestClient:
    client = client or web.client()
    form = client.get("/dashboard/login", params={"next": "/dashboard/anomalies"})
    token = TOKEN.search(form.text)
    assert form.status_code == 200 and token is not None
    answer = client.post(
        "/dashboard/login",
        data={"api_key": key, "csrf_token": token.group(1), "next": "/dashboard/anomalies"},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/dashboard/anomalies"
    return client


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found is not None, f"no CSRF field on {path}"
    return found.group(1)
