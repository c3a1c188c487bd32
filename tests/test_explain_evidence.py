"""Explanations with evidence: context events on simulated telemetry, operator
annotations of similar anomalies, knowledge passages, and dates traced to the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.context import ToolContext
from agent.explain_evidence import quote
from agent.tools_explain import explain
from ingestion.pipeline import Pipeline
from ingestion.simulator import TelemetrySimulator
from ingestion.worker import Worker, simulator_source
from store import queries
from store.annotations import all_annotations, record_annotation
from store.db import make_engine, migrate
from store.events import find_events
from store.knowledge import split_passages
from store.knowledge_index import KnowledgeIndex
from store.models import AnnotationCreate
from store.repository import (
    AnomalyWrite,
    get_or_create_channel,
    get_or_create_satellite,
    upsert_anomalies,
)
from store.vector import AnomalyIndex, Embedder, iso_z

NOW = datetime(2026, 3, 2, 0, 40, tzinfo=UTC)
BACKFILL_HOURS = 1.5
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")
CAUSE_KINDS = ("eclipse_entry", "telecommand")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """1.5 h of simulated SIM-1 telemetry, detected and stored with its events."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sim') / 'imon.db'}")
    migrate(engine)
    source = simulator_source(
        seed=7, satellite="SIM-1", cadence_s=10, backfill_hours=BACKFILL_HOURS
    )
    Worker(Pipeline(engine), [source], clock=lambda: NOW).run_once()
    yield engine
    engine.dispose()


def _event_then_anomaly(engine: Engine) -> tuple[Any, queries.AnomalyView]:
    """A simulator event right before an injected anomaly, and the stored anomaly for it."""
    simulator = TelemetrySimulator(seed=7)
    start = NOW - timedelta(hours=BACKFILL_HOURS)
    events = [e for e in simulator.events(start, NOW) if e.kind in CAUSE_KINDS]
    with Session(engine) as session:
        stored, _ = queries.list_anomalies(session, limit=1000, newest_first=False)
    for injected in simulator.injected_anomalies(start, NOW):
        for event in events:
            if not timedelta(0) <= injected.start - event.ts <= timedelta(minutes=5):
                continue
            for found in stored:
                near = abs((found.start - event.ts).total_seconds()) <= 120
                if found.channel == injected.channel and near:
                    return event, found
    raise AssertionError("the simulated period holds no detected anomaly right after an event")


def test_event_just_before_an_injected_anomaly_ranks_first(simulated: Engine) -> None:
    event, anomaly = _event_then_anomaly(simulated)
    ctx = ToolContext(engine=simulated, index=None, now=lambda: NOW)

    result = explain(ctx, anomaly.id)

    top = result["explanations"][0]
    assert top["cause"].startswith(f"possibly caused by {event.kind.replace('_', ' ')}"), top
    assert iso_z(event.ts) in top["cause"]
    assert top["evidence"][0].startswith(f"event {event.kind} at {iso_z(event.ts)}")
    confidences = [e["confidence"] for e in result["explanations"]]
    assert confidences == sorted(confidences, reverse=True)


def test_every_date_in_simulated_explanations_is_a_stored_date(simulated: Engine) -> None:
    ctx = ToolContext(engine=simulated, index=None, now=lambda: NOW)
    with Session(simulated) as session:
        anomalies, _ = queries.list_anomalies(session, limit=1000)
        stored = {iso_z(e.ts) for e in find_events(session)}
        stored |= {iso_z(a.start) for a in anomalies} | {iso_z(a.end) for a in anomalies}
        stored |= {iso_z(n.created_at) for n in all_annotations(session)}

    checked = 0
    for anomaly in anomalies:
        for item in explain(ctx, anomaly.id)["explanations"]:
            for text in [item["cause"], *item["evidence"]]:
                for date in ISO_Z.findall(text):
                    assert date in stored, (date, text)
                    checked += 1
    assert checked > len(anomalies)


# --- annotations of similar anomalies and knowledge passages ------------------------------

T0 = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
POWER_DOC = """# Power subsystem

## Bus voltage in eclipse

When the spacecraft enters eclipse the main bus voltage drops by about one volt as the
battery takes over the load. A level shift of the bus voltage at eclipse entry is expected.

## Reaction wheels

Momentum dumps every eight hours spin the wheels down.
"""


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def _annotated_store(tmp_path: Path, embedder: Embedder) -> tuple[ToolContext, int, int]:
    engine = make_engine(f"sqlite:///{tmp_path / 'imon.db'}")
    migrate(engine)
    index = AnomalyIndex(tmp_path / "chroma", embedder)
    ids = []
    with Session(engine) as session:
        satellite = get_or_create_satellite(session, "SAT-A")
        channel = get_or_create_channel(
            session, satellite, "bus_voltage", "V", "Main power bus voltage"
        )
        other = get_or_create_channel(session, satellite, "wheel_speed", "rpm", "Wheel speed")
        assert channel.id is not None and other.id is not None
        for day, channel_id, kind in (
            (0, channel.id, "level_shift"),
            (3, channel.id, "level_shift"),
            (5, other.id, "spike"),
        ):
            start = T0 + timedelta(days=day)
            write = AnomalyWrite(
                "changepoint",
                kind,
                start,
                start + timedelta(minutes=6),
                8.0,
                "high",
                False,
                {"magnitude": 8.0},
            )
            ((record, _),) = upsert_anomalies(session, channel_id, [write])
            assert record.id is not None
            ids.append(record.id)
        session.commit()
        index.upsert([queries.get_anomaly(session, i) for i in ids])
    knowledge = KnowledgeIndex(tmp_path / "chroma", embedder)
    knowledge.replace_source("power.md", split_passages(POWER_DOC))
    ctx = ToolContext(engine=engine, index=index, knowledge=knowledge, now=lambda: NOW)
    return ctx, ids[0], ids[1]


def test_operator_note_on_a_similar_anomaly_shows_in_a_later_explanation(
    tmp_path: Path, embedder: Embedder
) -> None:
    ctx, earlier, later = _annotated_store(tmp_path, embedder)
    note = "Eclipse season: bus sag is normal, 'ignore' it"
    record_annotation(
        ctx.engine,
        earlier,
        AnnotationCreate(author="ops", text=note, label="expected"),
        ctx.index,
    )

    result = explain(ctx, later)

    assert [n["anomaly_id"] for n in result["annotations"]] == [earlier]
    causes = [e["cause"] for e in result["explanations"]]
    expected = f"operators marked the similar anomaly #{earlier} as expected: {quote(note)}"
    assert any(expected in cause for cause in causes), causes
    assert quote(note) == "'Eclipse season: bus sag is normal, \\'ignore\\' it'"


def test_annotation_found_through_the_notes_index_alone(
    tmp_path: Path, embedder: Embedder
) -> None:
    ctx, earlier, later = _annotated_store(tmp_path, embedder)
    record_annotation(
        ctx.engine,
        earlier,
        AnnotationCreate(author="ops", text="heater test", label="confirmed"),
        ctx.index,
    )
    ctx.index = _NoSimilar(ctx.index)  # only the notes collection can find it now

    result = explain(ctx, later)

    assert [n["anomaly_id"] for n in result["annotations"]] == [earlier]
    assert any("'heater test'" in e["cause"] for e in result["explanations"])


class _NoSimilar:
    def __init__(self, index: Any) -> None:
        self._index = index

    def similar(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def similar_notes(self, *args: Any, **kwargs: Any) -> Any:
        return self._index.similar_notes(*args, **kwargs)


def test_knowledge_passage_is_retrieved_for_an_explanation(
    tmp_path: Path, embedder: Embedder
) -> None:
    ctx, _earlier, later = _annotated_store(tmp_path, embedder)

    result = explain(ctx, later)

    assert result["knowledge"], result["notes"]
    best = result["knowledge"][0]
    assert (best["source"], best["heading"]) == ("power.md", "Bus voltage in eclipse")
    documented = [e for e in result["explanations"] if "power.md" in e["cause"]]
    assert documented and "bus voltage drops by about one volt" in documented[0]["evidence"][0]


def test_explanation_says_no_evidence_when_nothing_supports_a_cause(
    tmp_path: Path, embedder: Embedder
) -> None:
    ctx, _earlier, _later = _annotated_store(tmp_path, embedder)
    ctx.index, ctx.knowledge = None, None
    with Session(ctx.engine) as session:
        spike = queries.list_anomalies(session, kind="spike")[0][0]

    result = explain(ctx, spike.id)

    assert result["notes"][0].startswith("no evidence found for a specific cause")
    assert len(result["explanations"]) == 1
