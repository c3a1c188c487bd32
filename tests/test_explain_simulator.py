"""`POST /ask` and `imon ask` explain simulator anomalies whose cause the simulator knows.

The seeded simulator is replayed by the worker into a temporary IMON_HOME, as in
production. It switches heater B on 5 s after each battery-current level shift it
injects (telecommands ``TC THERMAL_HEATER_B ON``/``OFF``) and logs every eclipse entry
and exit, which make the battery current jump. For one detected anomaly of each kind of
cause, the answer to "why" must name the event with the exact time of the stored Event,
the anomaly's exact start and its channel, as the best-ranked possible explanation.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from ingestion.pipeline import Pipeline
from ingestion.simulator import TelemetrySimulator
from ingestion.worker import Worker, simulator_source
from store import queries
from store.db import database_url, make_engine, migrate
from store.models import Event, Satellite
from store.vector import iso_z
from tests.auth_helpers import AUTH_HEADERS

SEED, SATELLITE, CADENCE_S = 7, "SIM-1", 10.0
#: The replay ends here and starts BACKFILL before; the window holds one heater switch
#: (2026-03-02 04:50 UTC for seed 7) and two eclipse transitions.
NOW = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
BACKFILL = timedelta(hours=1.5)
#: A detected start this close to an event is taken to be caused by it.
START_MARGIN = timedelta(seconds=60)
#: Anomalies of the replay's first minutes (detectors warming up) are not used.
WARM_UP = timedelta(minutes=30)


@dataclass(frozen=True)
class Case:
    """A detected anomaly and the stored event the simulator says caused it."""

    anomaly_id: int
    channel: str
    start: str
    event_ts: str
    event_text: str


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An IMON_HOME whose store holds the replayed simulator (points, anomalies, events)."""
    home = tmp_path_factory.mktemp("imon-sim-explain")
    engine = make_engine(database_url(home.resolve(), None))
    try:
        migrate(engine)
        source = simulator_source(
            seed=SEED,
            satellite=SATELLITE,
            cadence_s=CADENCE_S,
            backfill_hours=BACKFILL.total_seconds() / 3600,
        )
        Worker(Pipeline(engine), [source], clock=lambda: NOW).run_once()
    finally:
        engine.dispose()
    return home


def _stored(home: Path) -> tuple[list[queries.AnomalyView], list[Event]]:
    engine = make_engine(database_url(home.resolve(), None))
    try:
        with Session(engine) as session:
            anomalies, _ = queries.list_anomalies(session, limit=1000, newest_first=False)
            satellite = session.exec(select(Satellite).where(Satellite.name == SATELLITE)).one()
            events = queries.list_events(session, int(satellite.id or 0), NOW - BACKFILL, NOW)
    finally:
        engine.dispose()
    return anomalies, events


@pytest.fixture(scope="module")
def cases(home: Path) -> dict[str, Case]:
    """The telecommand case and the eclipse case, chosen from the simulator's truth."""
    anomalies, events = _stored(home)
    simulator = TelemetrySimulator(seed=SEED, cadence_s=CADENCE_S, satellite=SATELLITE)
    injected = simulator.injected_anomalies(NOW - BACKFILL, NOW)
    heater = next(
        a for a in injected if a.kind == "level_shift" and a.channel == "battery_current"
    )
    switched_on = next(e for e in events if e.text == "TC THERMAL_HEATER_B ON")
    assert heater.start - timedelta(seconds=10) <= switched_on.ts <= heater.start

    found: dict[str, Case] = {}
    # the detected anomaly covering the heater switch-on
    tc = next(
        a
        for a in anomalies
        if a.channel == heater.channel
        and a.start <= switched_on.ts + START_MARGIN
        and a.end >= switched_on.ts
    )
    found["telecommand"] = Case(
        tc.id, tc.channel, iso_z(tc.start), iso_z(switched_on.ts), switched_on.text
    )
    # a detected battery-current anomaly starting at an eclipse transition, away from
    # every injected anomaly (so the eclipse is the simulator's only cause for it)
    for anomaly in anomalies:
        if anomaly.channel != "battery_current" or anomaly.start < NOW - BACKFILL + WARM_UP:
            continue
        if any(i.start < anomaly.end and anomaly.start < i.end for i in injected):
            continue
        eclipse = [
            e
            for e in events
            if e.kind.startswith("eclipse") and abs(e.ts - anomaly.start) <= START_MARGIN
        ]
        if eclipse:
            found["eclipse"] = Case(
                anomaly.id,
                anomaly.channel,
                iso_z(anomaly.start),
                iso_z(eclipse[0].ts),
                eclipse[0].text,
            )
            break
    assert set(found) == {"telecommand", "eclipse"}, found
    return found


def _assert_explained(body: dict, case: Case) -> None:
    """The answer names the event (exact time), the anomaly's start and its channel, and
    the event is the best-ranked possible explanation, with its evidence."""
    text = body["answer"]
    assert case.start in text and case.channel in text, text
    assert case.event_ts in text and case.event_text in text, text
    assert [a["id"] for a in body["anomalies"]][:1] == [case.anomaly_id]
    best = body["explanations"][0]
    assert best["anomaly_id"] == case.anomaly_id
    assert case.event_ts in best["cause"] and case.event_text in best["cause"]
    assert any(
        case.event_ts in line and case.start in line and case.event_text in line
        for line in best["evidence"]
    ), best["evidence"]
    assert 0 < best["confidence"] <= 1
    assert [c["tool"] for c in body["tool_calls"]].count("explain") == 1


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, home=home, worker=False, simulator=False, index=False
    )
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


@pytest.mark.parametrize("cause", ["telecommand", "eclipse"])
def test_post_ask_explains_a_simulator_anomaly_by_its_known_cause(
    client: TestClient, cases: dict[str, Case], cause: str
) -> None:
    case = cases[cause]

    response = client.post("/ask", json={"question": f"why did anomaly {case.anomaly_id} happen?"})

    assert response.status_code == 200, response.text
    _assert_explained(response.json(), case)
    stored = client.get(f"/anomalies/{case.anomaly_id}").json()
    assert (stored["start"], stored["channel"]) == (case.start, case.channel)
    events = client.get("/events", params={"satellite": SATELLITE}).json()
    assert any(e["ts"] == case.event_ts and e["text"] == case.event_text for e in events)


@pytest.mark.parametrize("cause", ["telecommand", "eclipse"])
def test_imon_ask_explains_a_simulator_anomaly_by_its_known_cause(
    home: Path,
    cases: dict[str, Case],
    cause: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = cases[cause]
    # a copy: the module's TestClient holds the writer lock of `home`
    copy = shutil.copytree(home, tmp_path / "home", ignore=shutil.ignore_patterns("writer.*"))
    monkeypatch.setenv("IMON_HOME", str(copy))
    monkeypatch.setenv("IMON_URL", "http://127.0.0.1:9")  # nothing listens: local mode
    monkeypatch.setenv("IMON_INDEX", "0")
    question = f"pourquoi l'anomalie {case.anomaly_id} ?"

    as_json = CliRunner().invoke(cli, ["ask", "--json", question])
    plain = CliRunner().invoke(cli, ["ask", question])

    assert as_json.exit_code == 0, as_json.output
    _assert_explained(json.loads(as_json.output), case)
    assert plain.exit_code == 0, plain.output
    flat = " ".join(plain.output.split())  # rich wraps long lines
    assert case.event_ts in flat and case.start in flat and case.channel in flat
