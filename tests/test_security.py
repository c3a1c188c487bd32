"""Tenants and keys: no route, tool or stream shows one tenant's data to another.

The route matrix is generated from `app.openapi()`, so a new route is covered (or the
test fails asking for an example body) the moment it is added.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent.context import ToolContext
from agent.conversations import UnknownConversationError, load_state
from agent.errors import AgentError
from agent.tools import TOOLS
from app.auth import route_policy
from app.main import create_app
from app.notifications.stream import _Cursor, _fetch
from app.notifications.wiring import link_signer
from app.settings import Settings
from store.errors import StoreError
from store.keys import create_key, revoke_key
from store.knowledge_index import KnowledgeIndex
from store.models import Anomaly, Channel, Event, Point, Satellite
from store.notifications_models import Incident, IncidentAnomaly, Subscription
from store.vector import Embedder

SECRET_SATELLITE = "B-SECRET-SAT"
SECRET_CHANNEL = "b_secret_channel"
#: Data of tenant B no request of tenant A names: they must never appear in an answer.
SECRET_DATA = ("b-secret-unit", "B-SECRET-EVENT-TEXT")
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass
class World:
    client: TestClient
    settings: Settings
    engine: Engine
    keys: dict[str, str]
    ids: dict[str, int]

    def headers(self, name: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[name]}


def _seed_tenant_b(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        satellite = Satellite(name=SECRET_SATELLITE, tenant="b")
        session.add(satellite)
        session.flush()
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name=SECRET_CHANNEL, unit=SECRET_DATA[0])
        session.add(channel)
        session.flush()
        assert channel.id is not None
        for minute in range(30):
            ts = T0 + timedelta(minutes=minute)
            session.add(Point(channel_id=channel.id, ts=ts, value=float(minute == 15)))
        anomaly = Anomaly(
            channel_id=channel.id,
            start=T0 + timedelta(minutes=15),
            end=T0 + timedelta(minutes=16),
            kind="spike",
            score=9.0,
            severity="high",
            detector="test",
        )
        session.add(anomaly)
        session.add(
            Event(satellite_id=satellite.id, ts=T0, kind="telecommand", text=SECRET_DATA[1])
        )
        session.flush()
        assert anomaly.id is not None
        incident = Incident(
            satellite_id=satellite.id,
            start=anomaly.start,
            end=anomaly.end,
            severity="high",
            channels=[channel.id],
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        session.add(IncidentAnomaly(incident_id=incident.id, anomaly_id=anomaly.id))
        subscription = Subscription(tenant="b", kind="webhook", target="https://b.example/hook")
        session.add(subscription)
        session.commit()
        assert subscription.id is not None
        return {
            "satellite_id": satellite.id,
            "channel_id": channel.id,
            "anomaly_id": anomaly.id,
            "incident_id": incident.id,
            "subscription_id": subscription.id,
        }


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=tmp_path,
        database_url=url,
        worker=False,
        index=False,
        notify_dispatch=False,
        rate_ask_per_minute=1000,
        rate_ingest_per_minute=1000,
    )
    ids = _seed_tenant_b(engine)
    with Session(engine) as session:
        keys = {
            "a": create_key(session, "a", ["read", "ask", "ingest", "admin"]).key,
            "a_read": create_key(session, "a", ["read"]).key,
            "a_ingest": create_key(session, "a", ["ingest"]).key,
            "b": create_key(session, "b", ["read", "ask", "ingest", "admin"]).key,
        }
        revoked = create_key(session, "a", ["read", "admin"])
        session.flush()
        assert revoked.record.id is not None
        revoke_key(session, revoked.record.id)
        keys["revoked"] = revoked.key
        session.commit()
    with TestClient(create_app(settings)) as client:
        yield World(client, settings, engine, keys, ids)


def _operations(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    schema = world.client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


#: Bodies of the routes that take one; a new write route must add its example here.
EXAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/ask"): {"question": f"what anomalies happened on {SECRET_SATELLITE}?"},
    ("POST", "/ingest"): {
        "satellite": "A-OWN",
        "points": [{"channel": "x", "ts": "2024-03-01T00:00:00Z", "value": 1.0}],
    },
    ("POST", "/events"): [
        {"satellite": "A-OWN", "ts": "2024-03-01T00:00:00Z", "kind": "eclipse", "text": ""}
    ],
    ("POST", "/api/v1/datapoints"): [
        {"name": "x", "datapoints": [[1709251200000, 1.0]], "tags": {"satellite": "A-OWN"}}
    ],
    ("POST", "/api/v1/datapoints/query"): {
        "start_absolute": 0,
        "metrics": [{"name": SECRET_CHANNEL, "tags": {"satellite": [SECRET_SATELLITE]}}],
    },
    ("POST", "/subscriptions"): {
        "kind": "webhook",
        "target": "https://a.example/hook",
        "satellite": SECRET_SATELLITE,
    },
    ("POST", "/maintenance"): {
        "satellite": SECRET_SATELLITE,
        "start": "2024-03-01T00:00:00Z",
        "end": "2024-03-02T00:00:00Z",
    },
    ("POST", "/anomalies/{anomaly_id}/annotations"): {"author": "a", "text": "mine?"},
    ("POST", "/models/train"): {},
    ("POST", "/stream/link"): {},
}
#: Routes that stream forever: checked by `test_stream_shows_only_the_tenants_incidents`.
STREAMING = {("GET", "/stream")}


def _request(
    world: World, method: str, path: str, operation: dict[str, Any], headers: dict[str, str]
) -> Any:
    ids = world.ids
    signer = link_signer(world.settings)
    values: dict[str, Any] = {**ids, "satellite": SECRET_SATELLITE}
    concrete = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
    params: dict[str, str] = {}
    if "/ack" in path:
        params["token"] = signer.sign(f"ack:{ids['incident_id']}")
    if "/silence" in path:
        params["token"] = signer.sign(f"silence:{ids['channel_id']}")
    body = EXAMPLE_BODIES.get((method, path))
    if body is None and ("requestBody" in operation or method == "POST" and "{" not in path):
        pytest.fail(f"{method} {path}: add an example body to EXAMPLE_BODIES")
    return world.client.request(
        method, concrete, headers=headers, params=params, json=body if body is not None else None
    )


def test_tenant_a_never_sees_tenant_b_through_any_route(world: World) -> None:
    checked = 0
    for method, path, operation in _operations(world):
        if (method, path) in STREAMING or operation.get("x-public"):
            continue
        response = _request(world, method, path, operation, world.headers("a"))
        where = f"{method} {path}: {response.status_code} {response.text[:200]}"
        if "{" in path:
            assert response.status_code == 404, where
        else:
            assert response.status_code < 500, where
            asked = json.dumps(EXAMPLE_BODIES.get((method, path)))
            for secret in (SECRET_SATELLITE, SECRET_CHANNEL, *SECRET_DATA):
                assert secret in asked or secret not in response.text, where
            assert '"values":[[' not in response.text, where
        checked += 1
    assert checked >= 20
    # and nothing of B was changed on the way
    with Session(world.engine) as session:
        anomaly = session.get(Anomaly, world.ids["anomaly_id"])
        incident = session.get(Incident, world.ids["incident_id"])
        assert anomaly is not None and anomaly.status == "open"
        assert incident is not None and incident.acknowledged_at is None
        assert session.get(Subscription, world.ids["subscription_id"]) is not None


def test_tenant_b_sees_its_own_ids(world: World) -> None:
    ids = world.ids
    for path in (f"/anomalies/{ids['anomaly_id']}", f"/incidents/{ids['incident_id']}"):
        response = world.client.get(path, headers=world.headers("b"))
        assert response.status_code == 200, response.text
        assert SECRET_SATELLITE in response.text


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("imon_deadbeef_not-a-key", 401), ("garbage", 401), ("revoked", 401)],
)
def test_every_route_refuses_a_missing_invalid_or_revoked_key(
    world: World, key: str | None, status: int
) -> None:
    headers = {} if key is None else {"X-API-Key": world.keys.get(key, key)}
    for method, path, operation in _operations(world):
        if operation.get("x-public"):
            continue
        response = _request(world, method, path, operation, headers)
        assert response.status_code == status, f"{method} {path}: {response.status_code}"
        assert response.headers.get("www-authenticate") == "Bearer"
        assert world.keys["revoked"] not in response.text


def test_every_route_refuses_a_key_without_its_scope(world: World) -> None:
    for method, path, operation in _operations(world):
        if operation.get("x-public"):
            continue
        needed = operation.get("x-scope") or ("read" if method == "GET" else "admin")
        key = "a_ingest" if needed == "read" else "a_read"
        response = _request(
            world, method, path, operation, {"Authorization": f"Bearer {world.keys[key]}"}
        )
        assert response.status_code == 403, f"{method} {path} ({needed}): {response.text}"


def test_health_and_static_assets_need_no_key(world: World) -> None:
    assert world.client.get("/health").status_code == 200
    assert world.client.get("/static/widget.js").status_code == 200
    assert route_policy(None, "POST") == (False, "admin")


def test_the_admin_key_setting_is_the_default_tenants_admin(world: World) -> None:
    admin = world.settings.admin_key
    assert admin is not None
    response = world.client.get("/metrics", headers={"X-API-Key": admin.get_secret_value()})
    assert response.status_code == 200
    listed = world.client.get("/anomalies", headers={"X-API-Key": admin.get_secret_value()})
    assert listed.json()["total"] == 0  # the default tenant owns nothing here


def _tool_arguments(tool: Any, ids: dict[str, int]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "anomaly_id": ids["anomaly_id"],
        "channel_id": ids["channel_id"],
        "channel": SECRET_CHANNEL,
        "satellite": SECRET_SATELLITE,
        "start": "2024-03-01T00:00:00Z",
        "end": "2024-03-02T00:00:00Z",
        "text": "last week",
        "expression": "last week",
    }
    arguments = {}
    for name, parameter in list(inspect.signature(tool).parameters.items())[1:]:
        if name in values:
            arguments[name] = values[name]
        elif parameter.default is inspect.Parameter.empty:
            pytest.fail(f"{tool.__name__}: no test value for required argument {name!r}")
    return arguments


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_agent_tool_refuses_another_tenants_ids(world: World, name: str) -> None:
    tool = TOOLS[name]
    ctx = ToolContext(engine=world.engine, tenant="a", now=lambda: T0 + timedelta(days=1))
    try:
        result = tool(ctx, **_tool_arguments(tool, world.ids))
    except (AgentError, StoreError) as error:  # a refusal: unknown id, satellite or channel
        assert not any(secret in str(error) for secret in SECRET_DATA)
        return
    dumped = json.dumps(result, default=str)
    assert not any(s in dumped for s in (SECRET_CHANNEL, *SECRET_DATA)), dumped[:300]


def test_stream_shows_only_the_tenants_incidents(world: World) -> None:
    since = T0 - timedelta(days=3650)
    assert _fetch(world.engine, _Cursor(0, since), "a") == []
    mine = _fetch(world.engine, _Cursor(0, since), "b")
    assert [e["event"] for e in mine] == ["incident"]


def test_ingest_creates_satellites_under_the_keys_tenant(world: World) -> None:
    body = EXAMPLE_BODIES[("POST", "/ingest")] | {"satellite": SECRET_SATELLITE}
    response = world.client.post("/ingest", json=body, headers=world.headers("a"))
    assert response.status_code == 200, response.text
    with Session(world.engine) as session:
        owners = session.exec(
            select(Satellite.tenant).where(col(Satellite.name) == SECRET_SATELLITE)
        ).all()
    assert sorted(owners) == ["a", "b"]
    b_channels = world.client.get("/channels", headers=world.headers("b")).json()
    assert [c["name"] for c in b_channels] == [SECRET_CHANNEL]


def _point_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Point.ts)).all())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ingest", {"satellite": "x'; DROP TABLE point; --\n", "points": []}),
        ("POST", "/ingest", {"satellite": "ok\x00", "points": []}),
        ("POST", "/ingest", {"satellite": "ok", "points": "'; DELETE FROM point; --"}),
        ("POST", "/ask", {"question": "x" * 100_000}),
        ("POST", "/ask", {"question": ["nested"] * 3}),
        ("POST", "/ingest", b'{"satellite": "ok", "points": ' + b"[" * 100_000 + b"]" * 100_000),
        ("POST", "/events", b"[" * 100_000 + b"]" * 100_000),
        ("GET", "/channels/..%2F..%2Fetc%2Fpasswd/series", None),
        ("GET", "/anomalies/1%20OR%201=1", None),
        ("POST", "/annotations", {"author": "x"}),
    ],
)
def test_hostile_input_is_refused_and_stores_nothing(
    world: World, method: str, path: str, body: Any
) -> None:
    before = _point_count(world.engine)
    headers = world.headers("a") | {"content-type": "application/json"}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = world.client.request(method, path, content=raw, headers=headers)
    assert 400 <= response.status_code < 500, response.text[:200]
    assert _point_count(world.engine) == before


def test_oversized_body_is_413(world: World) -> None:
    big = b'{"question": "' + b"x" * (world.settings.max_body_bytes + 1) + b'"}'
    response = world.client.post(
        "/ask", content=big, headers=world.headers("a") | {"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_quoted_tag_values_in_a_push_are_kept_as_data(world: World) -> None:
    body = [
        {
            "name": "temp",
            "datapoints": [[1709251200000, 1.0]],
            "tags": {"satellite": "A'\"; DROP TABLE point; --"},
        }
    ]
    response = world.client.post("/api/v1/datapoints", json=body, headers=world.headers("a"))
    assert response.status_code in (204, 400), response.text
    with Session(world.engine) as session:
        names = session.exec(select(Satellite.name).where(col(Satellite.tenant) == "a")).all()
    assert all("DROP" not in n for n in names) or response.status_code == 204
    assert _point_count(world.engine) >= 30  # B's points are still there


def test_ask_is_rate_limited_per_key_with_retry_after(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=tmp_path, database_url=url, worker=False, index=False, rate_ask_per_minute=2
    )
    with Session(engine) as session:
        key = create_key(session, "a", ["ask"]).key
        other = create_key(session, "a", ["ask"]).key
        session.commit()
    with TestClient(create_app(settings)) as client:
        body = {"question": "any anomalies today?"}
        codes = [client.post("/ask", json=body, headers={"X-API-Key": key}) for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert int(codes[-1].headers["retry-after"]) >= 1
        assert client.post("/ask", json=body, headers={"X-API-Key": other}).status_code == 200


def test_a_conversation_of_another_tenant_is_404_and_stays_untouched(world: World) -> None:
    question = {"question": "what anomalies happened last week?"}
    started = world.client.post("/ask", json=question, headers=world.headers("b"))
    assert started.status_code == 200, started.text
    conversation = started.json()["conversation_id"]
    before = load_state(world.engine, conversation, "b")

    stolen = world.client.post(
        "/ask", json=question | {"conversation_id": conversation}, headers=world.headers("a")
    )

    assert stolen.status_code == 404, stolen.text
    assert "conversation_id" in stolen.json()["detail"]
    assert load_state(world.engine, conversation, "b") == before
    with pytest.raises(UnknownConversationError):
        load_state(world.engine, conversation, "a")
    follow = world.client.post(
        "/ask", json=question | {"conversation_id": conversation}, headers=world.headers("b")
    )
    assert follow.status_code == 200 and follow.json()["conversation_id"] == conversation


B_PROCEDURE = (
    "B-SECRET-PROCEDURE: a spike on the battery temperature channel happens when heater "
    "B of the B constellation cycles during eclipse."
)
SHARED_MANUAL = "A spike on a battery temperature channel happens when a heater cycles."


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    index = KnowledgeIndex(tmp_path_factory.mktemp("chroma"), Embedder())
    index.replace_source("b-procedures.md", [("Battery", B_PROCEDURE)], tenant="b")
    index.replace_source("manual.md", [("Battery", SHARED_MANUAL)])
    return index


def test_a_tenants_knowledge_is_never_found_by_another(knowledge: KnowledgeIndex) -> None:
    query = "spike on the battery temperature when heater B cycles in eclipse"

    for_a = knowledge.for_tenant("a").search(query, limit=5)
    for_b = knowledge.for_tenant("b").search(query, limit=5)
    unscoped = knowledge.search(query, limit=5)

    assert [hit.source for hit in for_a] == ["manual.md"]
    assert [hit.source for hit in for_b] == ["b-procedures.md", "manual.md"]
    assert [hit.source for hit in unscoped] == ["manual.md"]  # no tenant: shared only
    assert knowledge.documents() == [("", "manual.md", 1), ("b", "b-procedures.md", 1)]


def test_ask_explains_with_shared_knowledge_but_not_another_tenants(
    world: World, knowledge: KnowledgeIndex
) -> None:
    with Session(world.engine) as session:
        satellite = Satellite(name="A-OWN", tenant="a")
        session.add(satellite)
        session.flush()
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name="battery_temperature", unit="C")
        session.add(channel)
        session.flush()
        assert channel.id is not None
        anomaly = Anomaly(
            channel_id=channel.id,
            start=T0,
            end=T0 + timedelta(minutes=2),
            kind="spike",
            score=9.0,
            severity="high",
            detector="test",
        )
        session.add(anomaly)
        session.commit()
        anomaly_id = anomaly.id
    services = world.client.app.state.services  # type: ignore[attr-defined]
    services.knowledge = knowledge

    response = world.client.post(
        "/ask", json={"question": f"explain anomaly {anomaly_id}"}, headers=world.headers("a")
    )

    assert response.status_code == 200, response.text
    assert "manual.md" in response.text  # retrieval works for the tenant...
    assert "B-SECRET-PROCEDURE" not in response.text  # ...and stops at its own documents
