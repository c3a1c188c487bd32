"""The offline planner: question families, citations, traceable dates, follow-ups."""

from __future__ import annotations

import json
import re
import sys
import types
from typing import Any

import pytest

from agent import ToolContext, ask
from agent.planner import Plan, plan
from store.vector import iso_z
from tests.test_agent_tools import ANOMALIES, NOW, FakeHit, FakeIndex, build_store, utc

ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z")
STORED_DATES = {iso_z(utc(a[4])) for a in ANOMALIES.values()} | {
    iso_z(utc(a[5])) for a in ANOMALIES.values()
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine, ids = build_store(tmp_path_factory.mktemp("planner") / "imon.db")
    yield engine, ids
    engine.dispose()


@pytest.fixture
def ctx(store: Any) -> ToolContext:
    engine, ids = store
    return ToolContext(
        engine=engine, index=FakeIndex([FakeHit(ids["sat2"], "", 0.3, {})]), now=lambda: NOW
    )


@pytest.fixture
def ids(store: Any) -> dict[str, int]:
    return dict(store[1])


def converse(ctx: ToolContext, *questions: str) -> Plan:
    """Ask questions in one conversation; the plan of the last one."""
    state: dict[str, Any] | None = None
    outcome = None
    for question in questions:
        outcome = plan(ctx, question, state)
        state = outcome.conversation
    assert outcome is not None
    return outcome


def assert_dates_traceable(outcome: Plan, strict: bool = True) -> None:
    """Every ISO date in the text is copied from a tool result of this answer.

    With ``strict``, each is also a stored anomaly's start/end or a resolved period bound.
    """
    results = json.dumps([r for _, _, r in outcome.results])
    periods = {
        r[key]
        for tool, _, r in outcome.results
        if tool == "resolve_period"
        for key in ("start", "end")
    }
    for date in ISO_RE.findall(outcome.result.answer):
        assert date in results, date
        if strict:
            assert date in STORED_DATES | periods, date


def tools_of(outcome: Plan) -> list[str]:
    return [c.tool for c in outcome.result.tool_calls]


@pytest.mark.parametrize(
    ("question", "tools", "cited", "period"),
    [
        (
            "which anomalies happened in the last hour?",
            ["resolve_period", "list_anomalies"],
            ["flat"],
            ("2024-03-10T11:00:00Z", "2024-03-10T12:00:00Z"),
        ),
        (
            "anomalies on SAT-1 last week",
            ["resolve_period", "list_anomalies"],
            ["flat", "panel"],
            ("2024-03-03T12:00:00Z", "2024-03-10T12:00:00Z"),
        ),
        (
            "What went wrong on 2 March?",
            ["resolve_period", "list_anomalies"],
            ["jump", "wheel"],
            ("2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ),
        (
            "any alerts since yesterday?",
            ["resolve_period", "list_anomalies"],
            ["flat", "panel"],
            ("2024-03-09T00:00:00Z", "2024-03-10T12:00:00Z"),
        ),
        (
            "show anomalies on the bus voltage between 2024-03-01 and 2024-03-03",
            ["resolve_period", "list_anomalies", "list_anomalies"],
            ["jump"],
            ("2024-03-01T00:00:00Z", "2024-03-04T00:00:00Z"),
        ),
        (
            "anomalies since 3 pm CET",
            ["resolve_period", "list_anomalies"],
            ["flat"],
            ("2024-03-09T14:00:00Z", "2024-03-10T12:00:00Z"),
        ),
        ("spikes on SAT-2", ["list_anomalies"], ["sat2"], None),
        (
            "which channels were affected yesterday?",
            ["resolve_period", "list_anomalies"],
            ["panel"],
            ("2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z"),
        ),
        (
            "which channels had anomalies on SAT-1 on 2 March?",
            ["resolve_period", "list_anomalies"],
            ["jump", "wheel"],
            ("2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ),
        (
            "when did the last anomaly on the reaction wheel start?",
            ["list_anomalies"],
            ["wheel"],
            None,
        ),
        (
            "When did the latest anomaly on SAT-1 bus_voltage end?",
            ["list_anomalies"],
            ["flat"],
            None,
        ),
        ("explain anomaly {jump}", ["explain"], ["jump", "wheel", "sat2"], None),
        (
            "why did the bus voltage on SAT-1 jump on 2 March?",
            ["resolve_period", "list_anomalies", "explain"],
            ["jump", "wheel", "sat2"],
            ("2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ),
        (
            "why did the bus voltage jump?",
            ["list_anomalies"] * 2 + ["explain"],
            ["jump", "wheel", "sat2"],
            None,
        ),
        ("show anomaly #{panel}", ["get_anomaly"], ["panel"], None),
        ("list channels", ["list_channels"], [], None),
        (
            "summary of the panel temp yesterday",
            ["resolve_period", "channel_summary"],
            ["panel"],
            ("2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z"),
        ),
    ],
)
def test_question_families_call_the_right_tools_and_cite_the_right_anomalies(
    ctx: ToolContext,
    ids: dict[str, int],
    question: str,
    tools: list[str],
    cited: list[str],
    period: tuple[str, str] | None,
) -> None:
    outcome = plan(ctx, question.format(**ids))

    assert tools_of(outcome) == tools
    assert sorted(a.id for a in outcome.result.anomalies) == sorted(ids[k] for k in cited)
    for anomaly in outcome.result.anomalies:
        assert f"#{anomaly.id}" in outcome.result.answer
    if period is None:
        assert "resolve_period" not in tools
    else:
        assert f"between {period[0]} and {period[1]}" in outcome.result.answer
    assert_dates_traceable(outcome, strict="summary" not in question)


def test_listing_without_period_says_all_time(ctx: ToolContext) -> None:
    outcome = plan(ctx, "anomalies on SAT-1")

    assert "over all stored data (no period was given)" in outcome.result.answer
    assert outcome.result.tool_calls[0].arguments == {"satellite": "SAT-1", "limit": 200}


def test_ongoing_anomaly_is_reported_as_ongoing(ctx: ToolContext) -> None:
    outcome = plan(ctx, "when did the last anomaly on bus voltage end?")

    assert "has not ended yet (last flagged at 2024-03-10T11:50:00Z)" in outcome.result.answer
    assert outcome.result.anomalies[0].ongoing


@pytest.mark.parametrize(
    ("words", "channel"),
    [
        ("bus voltage", "bus_voltage"),
        ("bus_voltage", "bus_voltage"),
        ("bus voltag", "bus_voltage"),
        ("panel temp", "panel_temperature"),
        ("solar panel", "panel_temperature"),
        ("wheel", "wheel_speed"),
        ("reaction wheel", "wheel_speed"),
    ],
)
def test_channel_names_match_fuzzily(ctx: ToolContext, words: str, channel: str) -> None:
    outcome = plan(ctx, f"anomalies on SAT-1 {words}")

    call = outcome.result.tool_calls[0]
    assert call.arguments["satellite"] == "SAT-1" and call.arguments["channel"] == channel


def test_follow_up_changes_channel_and_keeps_period(ctx: ToolContext, ids: dict[str, int]) -> None:
    outcome = converse(ctx, "anomalies on 2 March", "and on the wheel?")

    last = outcome.result.tool_calls[-1]
    assert last.arguments["channel"] == "wheel_speed"
    assert last.arguments["start"] == "2024-03-02T00:00:00Z"
    assert [a.id for a in outcome.result.anomalies] == [ids["wheel"]]
    assert_dates_traceable(outcome)


def test_why_follow_up_explains_the_anomaly_just_cited(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    outcome = converse(ctx, "when did the last anomaly on the wheel start?", "why?")

    assert outcome.result.tool_calls[0].tool == "explain"
    assert outcome.result.tool_calls[0].arguments == {"anomaly_id": ids["wheel"]}
    assert {e.anomaly_id for e in outcome.result.explanations} == {ids["wheel"]}
    assert all(0 <= e.confidence <= 1 and e.evidence for e in outcome.result.explanations)
    assert "Possible explanations" in outcome.result.answer


def test_pronoun_follow_up_uses_the_last_anomaly(ctx: ToolContext, ids: dict[str, int]) -> None:
    outcome = converse(ctx, f"show anomaly {ids['panel']}", "when did it end?")

    assert outcome.result.tool_calls[0].arguments == {"anomaly_id": ids["panel"]}
    assert "ended at 2024-03-09T09:00:00Z" in outcome.result.answer


@pytest.mark.parametrize("question", ["explain anomaly 424242", "show anomaly 424242"])
def test_unknown_anomaly_id_gives_clear_message(ctx: ToolContext, question: str) -> None:
    outcome = plan(ctx, question)

    assert outcome.result.answer.startswith("There is no anomaly with id 424242.")
    assert outcome.result.tool_calls[0].summary.startswith("error:")
    assert outcome.result.anomalies == []


@pytest.mark.parametrize(
    "question", ["what's the weather on Mars?", "tell me a joke", "how do I reset my password"]
)
def test_unanswerable_question_gets_honest_reply(ctx: ToolContext, question: str) -> None:
    outcome = plan(ctx, question)

    assert outcome.result.answer.startswith("I cannot answer that from the monitoring data.")
    assert "list channels" in outcome.result.answer
    assert outcome.result.tool_calls == [] and outcome.result.anomalies == []


def test_unrecognised_name_is_said_not_silently_ignored(ctx: ToolContext) -> None:
    outcome = plan(ctx, "anomalies on the magnetometer")

    assert "I did not recognise 'magnetometer'" in outcome.result.answer


def test_long_lists_are_capped(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.compose.MAX_LISTED", 2)

    outcome = plan(ctx, "list all anomalies")

    assert "5 found. The 2 most severe (then most recent) are listed." in outcome.result.answer
    assert "… and 3 more" in outcome.result.answer
    assert len(outcome.result.anomalies) == 2


def test_ask_keeps_conversation_in_the_store(ctx: ToolContext, ids: dict[str, int]) -> None:
    first = ask(ctx, "anomalies on 2 March")
    second = ask(ctx, "  and on the wheel?  ", first.conversation_id)

    assert first.conversation_id and second.conversation_id == first.conversation_id
    assert [a.id for a in second.anomalies] == [ids["wheel"]]
    assert json.loads(second.model_dump_json())["tool_calls"][0]["tool"] == "resolve_period"


def test_detect_question_runs_detection_tool_without_storing(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fake_detect_series(ts: Any, values: Any, config: Any = None, history: Any = None) -> Any:
        calls.append(len(ts))
        return []

    monkeypatch.setitem(
        sys.modules, "detection", types.SimpleNamespace(detect_series=fake_detect_series)
    )
    outcome = plan(ctx, "run detection on SAT-1 wheel speed yesterday")

    assert tools_of(outcome) == ["resolve_period", "detect"]
    assert calls == [145]
    assert "145 points from 2024-03-09T00:00:00Z to 2024-03-10T00:00:00Z" in outcome.result.answer
    assert "0 anomalies found (not stored)" in outcome.result.answer
    assert_dates_traceable(outcome, strict=False)


def test_detect_without_detection_package_says_so(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "detection", None)  # import fails

    outcome = plan(ctx, "detect anomalies on SAT-1 wheel speed yesterday")

    assert outcome.result.answer.startswith("On-demand detection is not available")
