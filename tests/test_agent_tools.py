"""Agent tools over a small SQLite store: periods, lookups, explanations, detection."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sqlmodel import Session

from agent import AskRequest, ToolContext
from agent.conversations import load_state, new_conversation_id, save_state
from agent.errors import AmbiguousNameError, InvalidArgumentError, NotFoundError, PeriodError
from agent.tools import (
    channel_summary,
    detect,
    explain,
    get_anomaly,
    list_anomalies,
    list_channels,
    resolve_period,
)
from store.db import make_engine, migrate
from store.repository import (
    AnomalyWrite,
    get_or_create_channel,
    get_or_create_satellite,
    upsert_anomalies,
    write_points,
)

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
POINTS_FROM = datetime(2024, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)

CHANNELS = {
    ("SAT-1", "bus_voltage"): ("V", "Main power bus voltage", 28.0),
    ("SAT-1", "panel_temperature"): ("degC", "Solar panel temperature", 40.0),
    ("SAT-1", "wheel_speed"): ("rpm", "Reaction wheel 1 speed", 3000.0),
    ("SAT-2", "bus_voltage"): ("V", "Main power bus voltage", 28.0),
}
#: name -> (satellite, channel, kind, severity, start, end, ongoing, magnitude)
ANOMALIES: dict[str, tuple[str, str, str, str, str, str, bool, float]] = {
    "jump": (
        "SAT-1",
        "bus_voltage",
        "level_shift",
        "high",
        "2024-03-02T10:00:00",
        "2024-03-02T10:30:00",
        False,
        12.0,
    ),
    "wheel": (
        "SAT-1",
        "wheel_speed",
        "spike",
        "medium",
        "2024-03-02T10:05:00",
        "2024-03-02T10:10:00",
        False,
        9.0,
    ),
    "panel": (
        "SAT-1",
        "panel_temperature",
        "trend_change",
        "low",
        "2024-03-09T08:00:00",
        "2024-03-09T09:00:00",
        False,
        4.0,
    ),
    "flat": (
        "SAT-1",
        "bus_voltage",
        "flatline",
        "critical",
        "2024-03-10T11:30:00",
        "2024-03-10T11:50:00",
        True,
        0.0,
    ),
    "sat2": (
        "SAT-2",
        "bus_voltage",
        "spike",
        "low",
        "2024-03-05T00:00:00",
        "2024-03-05T00:10:00",
        False,
        5.0,
    ),
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build_store(path: Path) -> tuple[Any, dict[str, int]]:
    """A migrated SQLite store with 4 channels of points and 5 anomalies; ids by name."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    rng = np.random.default_rng(7)
    ts = pd.Series(pd.date_range(POINTS_FROM, NOW, freq=STEP))
    ids: dict[str, int] = {}
    with Session(engine) as session:
        channels = {}
        for (sat_name, name), (unit, description, level) in CHANNELS.items():
            satellite = get_or_create_satellite(session, sat_name)
            channel = get_or_create_channel(session, satellite, name, unit, description)
            assert channel.id is not None
            channels[(sat_name, name)] = channel.id
            values = level + rng.normal(0, 0.1, len(ts))
            if (sat_name, name) == ("SAT-1", "bus_voltage"):
                jump = (ts >= utc("2024-03-02T10:00:00")) & (ts <= utc("2024-03-02T10:30:00"))
                values[jump.to_numpy()] += 3.0
            write_points(session, channel.id, ts, values)
        for key, (sat, chan, kind, severity, start, end, ongoing, size) in ANOMALIES.items():
            ((record, _),) = upsert_anomalies(
                session,
                channels[(sat, chan)],
                [
                    AnomalyWrite(
                        detector="test",
                        kind=kind,
                        start=utc(start),
                        end=utc(end),
                        score=size,
                        severity=severity,
                        ongoing=ongoing,
                        params={"magnitude": size},
                    )
                ],
            )
            assert record.id is not None
            ids[key] = record.id
        other = get_or_create_satellite(session, "OTHER-1", tenant="someone-else")
        hidden = get_or_create_channel(session, other, "bus_voltage")
        assert hidden.id is not None
        ((record, _),) = upsert_anomalies(
            session,
            hidden.id,
            [AnomalyWrite("test", "spike", NOW - STEP, NOW, 50.0, "critical", False, {})],
        )
        ids["hidden"] = int(record.id or 0)
        session.commit()
    return engine, ids


@dataclass
class FakeHit:
    anomaly_id: int
    text: str
    distance: float
    metadata: dict[str, Any]


class FakeIndex:
    """Answers every search with fixed hits (ids that may or may not exist)."""

    def __init__(self, hits: list[FakeHit]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def similar(self, text: str, limit: int = 5, exclude_id: int | None = None) -> list[FakeHit]:
        self.queries.append(text)
        return [h for h in self.hits if h.anomaly_id != exclude_id][:limit]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, int]]]:
    engine, ids = build_store(tmp_path_factory.mktemp("agent") / "imon.db")
    yield engine, ids
    engine.dispose()


@pytest.fixture
def ctx(store: tuple[Any, dict[str, int]]) -> ToolContext:
    engine, ids = store
    index = FakeIndex([FakeHit(ids["sat2"], "spike", 0.2, {}), FakeHit(99999, "gone", 0.1, {})])
    return ToolContext(engine=engine, index=index, now=lambda: NOW)


@pytest.fixture
def ids(store: tuple[Any, dict[str, int]]) -> dict[str, int]:
    return store[1]


# --- periods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("last hour", "2024-03-10T11:00:00Z", "2024-03-10T12:00:00Z"),
        ("in the last 24 hours", "2024-03-09T12:00:00Z", "2024-03-10T12:00:00Z"),
        ("last week", "2024-03-03T12:00:00Z", "2024-03-10T12:00:00Z"),
        ("past month", "2024-02-09T12:00:00Z", "2024-03-10T12:00:00Z"),
        ("today", "2024-03-10T00:00:00Z", "2024-03-10T12:00:00Z"),
        ("yesterday", "2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z"),
        ("since yesterday", "2024-03-09T00:00:00Z", "2024-03-10T12:00:00Z"),
        ("on 2 March", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ("between 2024-03-01 and 2024-03-03", "2024-03-01T00:00:00Z", "2024-03-04T00:00:00Z"),
        ("between March 1 and March 3", "2024-03-01T00:00:00Z", "2024-03-04T00:00:00Z"),
        ("in March 2024", "2024-03-01T00:00:00Z", "2024-03-10T12:00:00Z"),
        ("in February", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
        ("2024-03-02", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ("2024-03-02T10:00:00+02:00", "2024-03-02T08:00:00Z", "2024-03-02T09:00:00Z"),
        ("since 3 pm CET", "2024-03-09T14:00:00Z", "2024-03-10T12:00:00Z"),
        ("since 09:30 CET", "2024-03-10T08:30:00Z", "2024-03-10T12:00:00Z"),
        ("on 2 March at 14:00 UTC", "2024-03-02T14:00:00Z", "2024-03-02T15:00:00Z"),
        ("from 1 March 10:00 to 2 March", "2024-03-01T10:00:00Z", "2024-03-03T00:00:00Z"),
    ],
)
def test_resolve_period_is_relative_to_now_and_in_utc(
    ctx: ToolContext, text: str, start: str, end: str
) -> None:
    assert resolve_period(ctx, text) == {"start": start, "end": end, "label": text}


@pytest.mark.parametrize("text", ["", "blah blah", "between 2024-03-05 and 2024-03-01"])
def test_resolve_period_refuses_what_it_cannot_read(ctx: ToolContext, text: str) -> None:
    with pytest.raises(PeriodError):
        resolve_period(ctx, text)


# --- lookups -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, ["flat", "panel", "sat2", "wheel", "jump"]),
        ({"satellite": "SAT-1"}, ["flat", "panel", "wheel", "jump"]),
        ({"satellite": "SAT-1", "channel": "bus_voltage"}, ["flat", "jump"]),
        ({"channel": "bus_voltage"}, ["flat", "sat2", "jump"]),
        ({"start": "2024-03-02T00:00:00Z", "end": "2024-03-03T00:00:00Z"}, ["wheel", "jump"]),
        ({"kind": "spike"}, ["sat2", "wheel"]),
        ({"min_severity": "high"}, ["flat", "jump"]),
    ],
)
def test_list_anomalies_filters_newest_first(
    ctx: ToolContext, ids: dict[str, int], arguments: dict[str, Any], expected: list[str]
) -> None:
    result = list_anomalies(ctx, **arguments)

    assert [a["id"] for a in result["anomalies"]] == [ids[k] for k in expected]
    assert result["total"] == len(expected)
    json.dumps(result)  # JSON-ready


def test_list_anomalies_dates_are_iso_z(ctx: ToolContext, ids: dict[str, int]) -> None:
    found = list_anomalies(ctx, satellite="SAT-1", channel="bus_voltage")["anomalies"]
    flat = next(a for a in found if a["id"] == ids["flat"])
    assert (flat["start"], flat["end"], flat["ongoing"]) == (
        "2024-03-10T11:30:00Z",
        "2024-03-10T11:50:00Z",
        True,
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: list_anomalies(c, satellite="SAT-9"), "unknown satellite 'SAT-9'"),
        (lambda c: list_anomalies(c, channel="bus_voltag"), "did you mean bus_voltage"),
        (lambda c: list_anomalies(c, satellite="OTHER-1"), "unknown satellite"),
        (lambda c: get_anomaly(c, 424242), "no anomaly with id 424242"),
        (lambda c: explain(c, 424242), "no anomaly with id 424242"),
        (lambda c: list_channels(c, satellite="nope"), "unknown satellite 'nope'"),
        (lambda c: channel_summary(c, channel_id=424242), "channel 424242 does not exist"),
    ],
)
def test_unknown_ids_and_names_raise_clear_errors(
    ctx: ToolContext, call: Any, message: str
) -> None:
    with pytest.raises(NotFoundError, match=message):
        call(ctx)


def test_other_tenants_anomalies_are_invisible(ctx: ToolContext, ids: dict[str, int]) -> None:
    with pytest.raises(NotFoundError):
        get_anomaly(ctx, ids["hidden"])
    assert ids["hidden"] not in [a["id"] for a in list_anomalies(ctx)["anomalies"]]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"kind": "explosion"}, "kind='explosion' is not one of"),
        ({"min_severity": "huge"}, "min_severity='huge'"),
        ({"start": "yesterday"}, "not an ISO 8601"),
        ({"start": "2024-03-01T00:00:00"}, "no time zone"),
        ({"limit": 0}, "limit=0"),
    ],
)
def test_list_anomalies_rejects_bad_arguments(
    ctx: ToolContext, arguments: dict[str, Any], error: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=error):
        list_anomalies(ctx, **arguments)


def test_list_channels_shows_tenant_channels_with_stats(ctx: ToolContext) -> None:
    result = list_channels(ctx)

    names = [(c["satellite"], c["name"]) for c in result["channels"]]
    assert names == sorted(CHANNELS)
    first = result["channels"][0]
    assert first["first"] == "2024-03-01T00:00:00Z" and first["last"] == "2024-03-10T12:00:00Z"


def test_channel_summary_counts_points_and_anomalies(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    result = channel_summary(
        ctx, "bus_voltage", "SAT-1", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"
    )

    assert result["points"] == 145  # every 10 min, both ends included
    assert result["first"] == "2024-03-02T00:00:00Z" and result["last"] == "2024-03-03T00:00:00Z"
    assert 27.5 < result["min"] < 28.0 < result["mean"] < result["max"] < 31.5
    assert [a["id"] for a in result["anomalies"]] == [ids["jump"]]


def test_channel_summary_needs_satellite_for_shared_names(ctx: ToolContext) -> None:
    with pytest.raises(AmbiguousNameError, match="SAT-1, SAT-2"):
        channel_summary(ctx, "bus_voltage")


# --- explanations ------------------------------------------------------------------------


def test_explain_gives_cooccurring_channel_with_lag_and_magnitude(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    result = explain(ctx, ids["jump"])

    assert [o["id"] for o in result["co_occurring"]] == [ids["wheel"]]
    assert result["co_occurring"][0]["lag_s"] == 300.0
    assert result["duration_s"] == 1800.0
    assert result["magnitude"]["detector_magnitude"] == 12.0
    assert result["magnitude"]["peak_deviation_std"] > 10  # +3 V on 0.1 V noise
    top = result["explanations"][0]
    assert "common cause" in top["cause"] and "wheel_speed" in top["cause"]
    assert all(0.0 <= e["confidence"] <= 1.0 for e in result["explanations"])
    assert [s["id"] for s in result["similar"]] == [ids["sat2"]]  # stale hit 99999 skipped
    json.dumps(result)


def test_explain_says_when_there_is_no_evidence(store: tuple[Any, dict[str, int]]) -> None:
    engine, ids = store
    ctx = ToolContext(engine=engine, index=None, now=lambda: NOW)

    result = explain(ctx, ids["panel"])

    assert result["co_occurring"] == [] and result["similar"] == []
    assert "no other channel of SAT-1 had an anomaly at the same time" in result["notes"]
    assert "no vector index is available" in result["notes"][-1]
    assert len(result["explanations"]) == 1  # only the generic reading of the kind


# --- detection (the real detectors are replaced: they compile for ~30 s) -----------------


def test_detect_runs_detectors_over_stored_points_with_history(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_detect_series(ts: Any, values: Any, config: Any = None, history: Any = None) -> Any:
        seen.update(ts=ts, values=values, history=history)
        found = types.SimpleNamespace(
            detector="fake",
            kind="spike",
            start=pd.Timestamp(ts[1], tz="UTC"),
            end=pd.Timestamp(ts[2], tz="UTC"),
            score=np.float64(11.0),
            severity="medium",
            ongoing=False,
            params={"magnitude": np.float64(11.0)},
        )
        return [found]

    monkeypatch.setitem(
        sys.modules, "detection", types.SimpleNamespace(detect_series=fake_detect_series)
    )
    result = detect(ctx, "wheel_speed", "SAT-1", "2024-03-02T00:00:00Z", "2024-03-02T01:00:00Z")

    assert result["points"] == 7 and len(seen["history"][0]) > 0
    assert seen["ts"].dtype == np.int64 and seen["history"][0][-1] < seen["ts"][0]
    assert result["anomalies"] == [
        {
            "detector": "fake",
            "kind": "spike",
            "start": "2024-03-02T00:10:00Z",
            "end": "2024-03-02T00:20:00Z",
            "ongoing": False,
            "score": 11.0,
            "severity": "medium",
            "params": {"magnitude": 11.0},
        }
    ]


# --- request validation and conversations -----------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"question": "   "}, "question is blank"),
        ({"question": "x" * 2001}, "at most 2000"),
        ({"question": "ok", "conversation_id": "a/b"}, "conversation_id must be"),
        ({"question": "ok", "conversation_id": "a" * 65}, "conversation_id must be"),
    ],
)
def test_ask_request_rejects_bad_input_with_clear_message(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AskRequest(**payload)


def test_ask_request_strips_question() -> None:
    assert AskRequest(question="  list channels \n").question == "list channels"


def test_conversation_state_round_trips(ctx: ToolContext) -> None:
    conversation = new_conversation_id()
    assert load_state(ctx.engine, conversation) == {}

    save_state(ctx.engine, conversation, {"satellite": "SAT-1"})
    save_state(ctx.engine, conversation, {"satellite": "SAT-2", "anomaly_ids": [1]})

    assert load_state(ctx.engine, conversation) == {"satellite": "SAT-2", "anomaly_ids": [1]}
    assert len(conversation) == 32
