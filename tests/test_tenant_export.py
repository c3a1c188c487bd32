"""A tenant's admin exports (JSON, Parquet) and deletes its data; other tenants keep theirs."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from agent.conversations import save_state
from app.cli import cli
from app.main import create_app
from app.runtime import Services
from app.settings import Settings
from app.tenant_ops import delete_tenant
from store import channel_models, tenant_data
from store.keys import create_key
from store.models import Annotation, Anomaly, Channel, Event, Point, Satellite
from store.notifications_models import Incident, IncidentAnomaly, Subscription
from store.queries import get_anomaly
from store.vector import NoteDoc, index_by_tenant

T0 = datetime(2024, 5, 1, tzinfo=UTC)
POINTS = 40
WEBHOOK_SECRET = "whsec-9Qk2Lr7Xv0Zp4Tn8"


@dataclass
class Stores:
    client: TestClient
    services: Services
    keys: dict[str, str]
    home: Path


def _seed(engine: Engine, tenant: str, satellite_name: str) -> int:
    """One of everything for `tenant`; returns the anomaly id."""
    with Session(engine) as session:
        satellite = Satellite(name=satellite_name, tenant=tenant)
        session.add(satellite)
        session.flush()
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name=f"{tenant}_battery_temp", unit="C")
        session.add(channel)
        session.flush()
        assert channel.id is not None
        for minute in range(POINTS):
            ts = T0 + timedelta(minutes=minute)
            session.add(Point(channel_id=channel.id, ts=ts, value=float(minute == 20)))
        anomaly = Anomaly(
            channel_id=channel.id,
            start=T0 + timedelta(minutes=20),
            end=T0 + timedelta(minutes=21),
            kind="spike",
            score=9.0,
            severity="high",
            detector="test",
            params={"magnitude": 9.0},
        )
        session.add(anomaly)
        session.add(Event(satellite_id=satellite.id, ts=T0, kind="eclipse", text=f"{tenant} ev"))
        session.flush()
        assert anomaly.id is not None
        session.add(Annotation(anomaly_id=anomaly.id, author=tenant, text="heater cycling"))
        incident = Incident(
            satellite_id=satellite.id, start=anomaly.start, end=anomaly.end, severity="high"
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        session.add(IncidentAnomaly(incident_id=incident.id, anomaly_id=anomaly.id))
        session.add(
            Subscription(
                tenant=tenant, kind="webhook", target="http://127.0.0.1:9/x", secret=WEBHOOK_SECRET
            )
        )
        channel_models.add_version(
            session, channel.id, {"mean": 0.0}, {"fit": 1.0}, (T0, T0 + timedelta(hours=1)), 3
        )
        session.commit()
        return anomaly.id


@pytest.fixture
def stores(engine: Engine, tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(
        home=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        worker=False,
        index=True,
        notify_dispatch=False,
    )
    ids = {tenant: _seed(engine, tenant, f"{tenant.upper()}-SAT") for tenant in ("a", "b")}
    with Session(engine) as session:
        keys = {t: create_key(session, t, ["read", "ask", "admin"]).key for t in ("a", "b")}
        keys["b_read"] = create_key(session, "b", ["read"]).key
        session.commit()
    save_state(engine, "conv-a", {"satellite": "A-SAT"}, "a")
    save_state(engine, "conv-b", {"satellite": "B-SAT"}, "b")
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("A-SAT", "B-SAT"):
        (reports / f"{name}-20240501T000000Z.html").write_text("<html></html>")
    with TestClient(create_app(settings)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        assert services.index is not None and services.knowledge is not None
        with Session(engine) as session:
            views = [get_anomaly(session, ident) for ident in ids.values()]
        index_by_tenant(services.index, engine, views)
        with Session(engine) as session:
            for view in views:
                note = session.exec(
                    select(Annotation).where(col(Annotation.anomaly_id) == view.id)
                ).one()
                assert note.id is not None
                doc = NoteDoc(note.id, view, note.author, None, note.text)
                services.index.upsert_notes([doc], tenant=view.satellite[0].lower())
        services.knowledge.replace_source("a-notes.md", [("A", "A only: heater B cycles")], "a")
        services.knowledge.replace_source("b-notes.md", [("B", "B only: heater B cycles")], "b")
        services.knowledge.replace_source("manual.md", [("Ops", "heaters cycle in eclipse")])
        yield Stores(client, services, keys, tmp_path)


def _counts(engine: Engine, tenant: str) -> dict[str, int]:
    with engine.connect() as connection:
        return tenant_data.count_rows(connection, tenant)


def test_every_table_is_classified_as_tenant_data_or_service_data() -> None:
    assert tenant_data.unclassified_tables() == []


def test_json_export_holds_the_tenants_rows_and_no_secret(stores: Stores) -> None:
    response = stores.client.get("/tenants/me/export", headers={"X-API-Key": stores.keys["a"]})
    assert response.status_code == 200, response.text
    exported = response.json()
    tables = exported["tables"]
    assert exported["tenant"] == "a"
    assert [s["name"] for s in tables["satellite"]] == ["A-SAT"]
    assert len(tables["point"]) == POINTS
    for table in ("anomaly", "annotation", "event", "incident", "subscription", "channelmodel"):
        assert len(tables[table]) == 1, table
    assert [c["id"] for c in tables["conversation"]] == ["conv-a"]
    assert "B-SAT" not in response.text and "b_battery_temp" not in response.text
    assert WEBHOOK_SECRET not in response.text and "sha256$" not in response.text
    assert tables["point"][0]["ts"].endswith("Z")


def test_parquet_export_is_a_zip_of_one_file_per_table(stores: Stores) -> None:
    response = stores.client.get(
        "/tenants/me/export", params={"format": "parquet"}, headers={"X-API-Key": stores.keys["b"]}
    )
    assert response.status_code == 200, response.text[:200]
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"] == "b" and manifest["rows"]["point"] == POINTS
    points = pq.read_table(io.BytesIO(archive.read("point.parquet")))
    assert points.num_rows == POINTS and str(points.schema.field("ts").type).startswith(
        "timestamp"
    )
    satellites = pq.read_table(io.BytesIO(archive.read("satellite.parquet"))).to_pylist()
    assert [s["name"] for s in satellites] == ["B-SAT"]
    assert "secret" not in pq.read_table(io.BytesIO(archive.read("subscription.parquet"))).schema
    assert pq.read_table(io.BytesIO(archive.read("conversation.parquet"))).num_rows == 1


@pytest.mark.parametrize(("key", "status"), [("b_read", 403), ("b", 422)])
def test_delete_needs_the_admin_scope_and_the_tenants_name(
    stores: Stores, key: str, status: int
) -> None:
    before = _counts(stores.services.engine, "b")
    response = stores.client.delete(
        "/tenants/me", params={"confirm": "a"}, headers={"X-API-Key": stores.keys[key]}
    )
    assert response.status_code == status, response.text
    assert _counts(stores.services.engine, "b") == before


def test_deleting_a_leaves_b_intact_including_vector_search(stores: Stores) -> None:
    engine, index = stores.services.engine, stores.services.index
    assert index is not None and stores.services.knowledge is not None
    b_before = _counts(engine, "b")

    response = stores.client.delete(
        "/tenants/me", params={"confirm": "a"}, headers={"X-API-Key": stores.keys["a"]}
    )

    assert response.status_code == 200, response.text
    done = response.json()
    assert done["rows"]["point"] == POINTS and done["rows"]["apikey"] == 1
    assert done["index_entries"] >= 2 and done["knowledge_passages"] == 1
    assert done["files"] == ["A-SAT-20240501T000000Z.html"]
    assert sum(_counts(engine, "a").values()) == 0
    assert _counts(engine, "b") == b_before
    assert (stores.home / "reports" / "B-SAT-20240501T000000Z.html").exists()
    # vector search: B still finds its anomaly, annotation and own passage; A finds nothing
    assert [h.metadata["satellite"] for h in index.similar("spike battery", tenant="b")] == [
        "B-SAT"
    ]
    assert index.similar("spike battery", tenant="a") == []
    assert len(index.similar_notes("heater cycling", tenant="b")) == 1
    sources = {h.source for h in stores.services.knowledge.search("heater", 5, tenant="b")}
    assert sources == {"b-notes.md", "manual.md"}
    # A's key is gone with its tenant; B's still works
    gone = stores.client.get("/anomalies", headers={"X-API-Key": stores.keys["a"]})
    assert gone.status_code == 401
    listed = stores.client.get("/anomalies", headers={"X-API-Key": stores.keys["b"]})
    assert listed.json()["total"] == 1


def test_deleting_a_tenant_drops_the_live_detectors_of_its_channels(stores: Stores) -> None:
    pipeline = stores.services.pipeline
    points = pd.DataFrame(
        {
            "ts": pd.date_range("2024-06-01", periods=30, freq="1min", tz="UTC"),
            "channel": "live",
            "value": np.linspace(0.0, 1.0, 30),
        }
    )
    pipeline.ingest("A-SAT", points, tenant="a")
    pipeline.ingest("B-SAT", points, tenant="b")
    with Session(stores.services.engine) as session:
        rows = session.exec(
            select(Satellite.tenant, Channel.id)
            .join(Channel, col(Channel.satellite_id) == col(Satellite.id))
            .where(col(Channel.name) == "live")
        ).all()
    ids = {tenant: channel_id for tenant, channel_id in rows}
    assert {ids["a"], ids["b"]} <= set(pipeline.channel_ids())

    response = stores.client.delete(
        "/tenants/me", params={"confirm": "a"}, headers={"X-API-Key": stores.keys["a"]}
    )

    assert response.status_code == 200, response.text
    assert ids["a"] not in set(pipeline.channel_ids())
    assert ids["b"] in set(pipeline.channel_ids())


def test_deleting_a_tenant_without_data_deletes_nothing(stores: Stores) -> None:
    before = {t: _counts(stores.services.engine, t) for t in ("a", "b")}
    done = delete_tenant(stores.services.engine, "nobody", home=stores.home)
    assert sum(done.rows.values()) == 0 and done.files == []
    assert {t: _counts(stores.services.engine, t) for t in ("a", "b")} == before


def test_cli_exports_and_deletes_a_tenant_on_the_store(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("IMON_HOME", str(home))
    monkeypatch.setenv("IMON_DATABASE_URL", sqlite_engine.url.render_as_string())
    monkeypatch.setenv("IMON_INDEX", "0")
    _seed(sqlite_engine, "a", "A-SAT")
    _seed(sqlite_engine, "b", "B-SAT")
    runner = CliRunner()
    out = tmp_path / "a.zip"

    exported = runner.invoke(
        cli, ["tenant", "export", "--tenant", "a", "--format", "parquet", "--out", str(out)]
    )
    refused = runner.invoke(cli, ["tenant", "delete", "--tenant", "a", "--confirm", "b"])
    deleted = runner.invoke(cli, ["tenant", "delete", "--tenant", "a", "--confirm", "a"])

    assert exported.exit_code == 0, exported.output
    assert "point.parquet" in zipfile.ZipFile(out).namelist()
    assert refused.exit_code == 2 and "confirm" in refused.output
    assert deleted.exit_code == 0, deleted.output
    assert sum(_counts(sqlite_engine, "a").values()) == 0
    assert _counts(sqlite_engine, "b")["point"] == POINTS
