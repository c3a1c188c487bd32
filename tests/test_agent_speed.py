"""What makes /ask cheap keeps its answers right: the per-question catalogue, the fair
admission of planner answers and the one-statement conversation writes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent import ToolContext, ask, catalog
from agent.admission import FairSlots
from agent.conversations import UnknownConversationError, load_state, save_state
from store.repository import get_or_create_channel, get_or_create_satellite

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _add_channel(engine: Engine, satellite: str, channel: str) -> None:
    with Session(engine) as session:
        get_or_create_channel(session, get_or_create_satellite(session, satellite), channel)
        session.commit()


def _catalogue_reads(engine: Engine) -> list[str]:
    """The catalogue queries the engine runs from now on (they select channel.description)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "channel.description" in statement and "satellite.tenant" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_a_channel_added_between_questions_is_found_at_once(sqlite_engine: Engine) -> None:
    ctx = ToolContext(engine=sqlite_engine, now=lambda: NOW)
    _add_channel(sqlite_engine, "SAT-1", "bus_voltage")
    first = ask(ctx, "list the channels of SAT-1")
    assert "wheel_speed" not in first.answer

    _add_channel(sqlite_engine, "SAT-1", "wheel_speed")
    second = ask(ctx, "list the channels of SAT-1")
    assert "wheel_speed" in second.answer
    assert "bus_voltage" in second.answer


def test_one_question_reads_the_catalogue_once(sqlite_engine: Engine) -> None:
    _add_channel(sqlite_engine, "SAT-1", "bus_voltage")
    ctx = ToolContext(engine=sqlite_engine, now=lambda: NOW)
    reads = _catalogue_reads(sqlite_engine)
    result = ask(ctx, "anomalies on SAT-1 bus_voltage in the last 3 days")
    assert [call.tool for call in result.tool_calls] == ["resolve_period", "list_anomalies"]
    assert len(reads) == 1


def test_outside_a_question_every_call_reads_the_store(sqlite_engine: Engine) -> None:
    _add_channel(sqlite_engine, "SAT-1", "bus_voltage")
    with Session(sqlite_engine) as session:
        before = catalog.catalog(session, "default")
    _add_channel(sqlite_engine, "SAT-2", "temp")
    with Session(sqlite_engine) as session:
        after = catalog.catalog(session, "default")
        names = [name for _, name in catalog.satellites(session, "default")]
    assert [e.channel for e in before] == ["bus_voltage"]
    assert [(e.satellite, e.channel) for e in after] == [
        ("SAT-1", "bus_voltage"),
        ("SAT-2", "temp"),
    ]
    assert names == ["SAT-1", "SAT-2"]


def test_a_question_scope_keeps_tenants_apart(sqlite_engine: Engine) -> None:
    _add_channel(sqlite_engine, "SAT-1", "bus_voltage")
    with catalog.question_scope(), Session(sqlite_engine) as session:
        mine = catalog.catalog(session, "default")
        theirs = catalog.catalog(session, "other-tenant")
    assert [e.channel for e in mine] == ["bus_voltage"]
    assert theirs == []


def test_satellites_without_channels_are_listed(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        get_or_create_satellite(session, "SAT-9")
        session.commit()
    _add_channel(sqlite_engine, "SAT-1", "bus_voltage")
    with Session(sqlite_engine) as session:
        assert [name for _, name in catalog.satellites(session, "default")] == ["SAT-1", "SAT-9"]
        assert [e.satellite for e in catalog.catalog(session, "default")] == ["SAT-1"]


def test_fair_slots_bound_concurrency_and_serve_in_arrival_order() -> None:
    slots = FairSlots(2)
    active, peak, order = 0, 0, []
    lock = threading.Lock()
    release = threading.Event()

    def work(n: int) -> None:
        nonlocal active, peak
        with slots.held():
            with lock:
                active += 1
                peak = max(peak, active)
                order.append(n)
            release.wait(5)
            with lock:
                active -= 1

    threads = []
    for n in range(6):
        thread = threading.Thread(target=work, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # arrive one after the other
    with lock:
        assert order == [0, 1]  # two slots: the others wait
    release.set()
    for thread in threads:
        thread.join(10)
    assert peak == 2
    assert order[:2] == [0, 1]
    assert sorted(order[2:]) == [2, 3, 4, 5]


def test_fair_slots_refuse_zero() -> None:
    with pytest.raises(ValueError, match="slots=0"):
        FairSlots(0)


def test_conversation_state_is_saved_replaced_and_kept_per_tenant(engine: Engine) -> None:
    save_state(engine, "c1", {"intent": "count"}, "acme", new=True)
    assert load_state(engine, "c1", "acme") == {"intent": "count"}

    save_state(engine, "c1", {"intent": "explain"}, "acme")
    assert load_state(engine, "c1", "acme") == {"intent": "explain"}

    with pytest.raises(UnknownConversationError):
        save_state(engine, "c1", {"intent": "steal"}, "other")
    with pytest.raises(UnknownConversationError):
        load_state(engine, "c1", "other")
    assert load_state(engine, "c1", "acme") == {"intent": "explain"}

    save_state(engine, "c2", {"intent": "count"}, "other")  # unknown id, not flagged new
    assert load_state(engine, "c2", "other") == {"intent": "count"}
