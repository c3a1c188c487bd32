"""Annotations, context events and knowledge: HTTP API, CLI and the store on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from store import queries
from store.annotations import add_annotation, list_annotations
from store.events import find_events, store_events
from store.models import AnnotationCreate
from store.repository import (
    AnomalyWrite,
    get_or_create_channel,
    get_or_create_satellite,
    upsert_anomalies,
)
from tests.auth_helpers import AUTH_HEADERS

T0 = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
runner = CliRunner()


def _anomaly(engine: Engine, start: datetime, satellite: str = "SAT-A") -> int:
    with Session(engine) as session:
        sat = get_or_create_satellite(session, satellite)
        channel = get_or_create_channel(session, sat, "bus_voltage", "V", "Main bus voltage")
        assert channel.id is not None
        ((record, _),) = upsert_anomalies(
            session,
            channel.id,
            [
                AnomalyWrite(
                    "changepoint",
                    "level_shift",
                    start,
                    start + timedelta(minutes=5),
                    9.0,
                    "high",
                    False,
                    {"magnitude": 9.0},
                )
            ],
        )
        session.commit()
        assert record.id is not None
        return record.id


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("imon-annotations")
    settings = Settings(home=home, worker=False, simulator=False, index=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


# --- annotations over HTTP ----------------------------------------------------------------


def test_annotation_with_label_is_listed_and_sets_the_status(client: TestClient) -> None:
    anomaly_id = _anomaly(client.app.state.services.engine, T0)  # type: ignore[attr-defined]

    first = client.post(
        f"/anomalies/{anomaly_id}/annotations", json={"author": "ana", "text": "looking"}
    )
    second = client.post(
        f"/anomalies/{anomaly_id}/annotations",
        json={"author": "bob", "text": "eclipse season sag", "label": "expected"},
    )

    assert first.status_code == 201 and second.status_code == 201, second.text
    assert second.json()["created_at"].endswith("Z")
    listed = client.get(f"/anomalies/{anomaly_id}/annotations").json()
    assert [(a["author"], a["label"]) for a in listed] == [("ana", None), ("bob", "expected")]
    assert client.get(f"/anomalies/{anomaly_id}").json()["status"] == "expected"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"author": "ana", "label": "maybe"}, "label", "'confirmed', 'false_positive'"),
        ({"author": "ana", "text": "x" * 4001}, "text", "at most 4000 characters"),
        ({"author": "a" * 201}, "author", "at most 200 characters"),
        ({"author": "   "}, "author", "author is blank"),
        ({"text": "no author"}, "author", "Field required"),
    ],
)
def test_bad_annotation_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, message: str
) -> None:
    anomaly_id = _anomaly(client.app.state.services.engine, T0)  # type: ignore[attr-defined]
    before = client.get(f"/anomalies/{anomaly_id}/annotations").json()

    response = client.post(f"/anomalies/{anomaly_id}/annotations", json=body)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors
    assert client.get(f"/anomalies/{anomaly_id}/annotations").json() == before


def test_annotating_an_unknown_anomaly_is_404(client: TestClient) -> None:
    response = client.post("/anomalies/424242/annotations", json={"author": "ana"})
    listed = client.get("/anomalies/424242/annotations")

    assert response.status_code == 404 and "anomaly 424242 does not exist" in response.text
    assert listed.status_code == 404


# --- events over HTTP ---------------------------------------------------------------------


def test_posted_events_keep_good_items_and_name_bad_ones(client: TestClient) -> None:
    items: list[Any] = [
        {
            "satellite": "EV-1",
            "ts": "2024-03-02T10:00:00Z",
            "kind": "eclipse_entry",
            "text": "umbra",
        },
        {"satellite": "EV-1", "ts": "2024-03-02T10:00:00", "kind": "x"},  # naive
        {
            "satellite": "EV-1",
            "ts": "2024-03-02T12:00:00+02:00",
            "kind": "telecommand",
            "text": "TC HEATER ON",
        },
        {"satellite": "EV-1", "ts": "2024-03-02T11:00:00Z"},  # no kind
        "not an object",
    ]

    response = client.post("/events", json=items)
    again = client.post("/events", json=items[:1])

    body = response.json()
    assert (body["stored"], body["rejected"]) == (2, 3)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "ts"),
        (3, "kind"),
        (4, "item"),
    ]
    assert "no time zone" in body["errors"][0]["reason"]
    assert again.json()["already_stored"] == 1
    listed = client.get(
        "/events",
        params={
            "satellite": "EV-1",
            "start": "2024-03-02T09:30:00Z",
            "end": "2024-03-02T10:30:00Z",
        },
    ).json()
    assert [(e["ts"], e["kind"]) for e in listed] == [
        ("2024-03-02T10:00:00Z", "eclipse_entry"),
        ("2024-03-02T10:00:00Z", "telecommand"),
    ]
    assert client.get("/events", params={"start": "2024-03-02T10:00:00"}).status_code == 422


# --- the store on SQLite and PostgreSQL (migration 0002) ----------------------------------


def test_annotations_and_events_are_stored_on_each_database(engine: Engine) -> None:
    anomaly_id = _anomaly(engine, T0)

    with Session(engine) as session:
        add_annotation(
            session,
            anomaly_id,
            AnnotationCreate(author="ana", text="false alarm", label="false_positive"),
        )
        store_events(session, [_Item("SAT-A", T0, "telecommand", "TC X")])
        session.commit()

    with Session(engine) as session:
        (note,) = list_annotations(session, anomaly_id)
        assert (note.label, note.text, note.created_at.tzinfo) == (
            "false_positive",
            "false alarm",
            UTC,
        )
        assert queries.get_anomaly(session, anomaly_id).status == "false_positive"
        (event,) = find_events(session, "SAT-A", T0 - timedelta(minutes=1), T0)
        assert (event.ts, event.kind) == (T0, "telecommand")


class _Item:
    def __init__(self, satellite: str, ts: datetime, kind: str, text: str) -> None:
        self.satellite, self.ts, self.kind, self.text = satellite, ts, kind, text


# --- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMON_URL", "http://127.0.0.1:9")
    return tmp_path / "home"


def _stored_events(home: Path) -> list[tuple[str, str, str]]:
    from store.db import database_url, make_engine

    engine = make_engine(database_url(home, None))
    with Session(engine) as session:
        found = [(e.satellite, e.ts.isoformat(), e.kind) for e in find_events(session)]
    engine.dispose()
    return found


def test_events_add_reads_csv_and_json_files(home: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(
        "ts,kind,text\n2024-03-02T10:00:00Z,eclipse_entry,Umbra\n"
        "yesterday,telecommand,bad\n2024-03-02T10:05:00+01:00,telecommand,TC HEATER ON\n"
    )
    json_file = tmp_path / "events.json"
    json_file.write_text(json.dumps([{"ts": "2024-03-02T11:00:00Z", "kind": "manoeuvre"}]))

    csv_run = runner.invoke(cli, ["events", "add", str(csv_file), "--satellite", "CLI-1"])
    json_run = runner.invoke(cli, ["events", "add", str(json_file), "--satellite", "CLI-1"])

    assert csv_run.exit_code == 0, csv_run.output
    assert "2 events stored" in csv_run.output and "1 rejected" in csv_run.output
    assert "item 1, field 'ts'" in csv_run.output
    assert json_run.exit_code == 0 and "1 events stored" in json_run.output
    assert _stored_events(home) == [
        ("CLI-1", "2024-03-02T09:05:00+00:00", "telecommand"),
        ("CLI-1", "2024-03-02T10:00:00+00:00", "eclipse_entry"),
        ("CLI-1", "2024-03-02T11:00:00+00:00", "manoeuvre"),
    ]


def test_events_add_refuses_a_file_without_the_columns(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")

    result = runner.invoke(cli, ["events", "add", str(bad), "--satellite", "CLI-1"])

    assert result.exit_code == 2 and "missing column(s) kind, ts" in result.output


def test_knowledge_add_list_and_reindex_keeps_it(home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "power.md"
    doc.write_text(
        "# Power subsystem\n\nThe main bus voltage sags during eclipse.\n\n"
        "## Heaters\n\nSwitching heater B on raises the battery current by about 1.5 A.\n"
    )

    added = runner.invoke(cli, ["knowledge", "add", str(doc)])
    rebuilt = runner.invoke(cli, ["reindex"])
    listed = runner.invoke(cli, ["knowledge", "list"])

    assert added.exit_code == 0 and "power.md: 2 passages" in added.output, added.output
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "power.md" in listed.output and "2" in listed.output
    unsupported = runner.invoke(cli, ["knowledge", "add", str(tmp_path / "x.pdf")])
    assert unsupported.exit_code == 2
