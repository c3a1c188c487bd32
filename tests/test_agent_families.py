"""The planner's question families in English and French: periods, eclipses, counts,
rankings, state, plots, follow-ups, and honest replies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from agent import ToolContext
from agent.periods import find_event_phrase, find_period_phrase, resolve
from agent.planner import plan
from agent.plots import plot_url
from agent.tools_events import find_events
from store.models import Event, Satellite
from tests.test_agent_planner import assert_dates_traceable, converse, tools_of
from tests.test_agent_tools import NOW, build_store

ECLIPSE = ("2024-03-09T08:10:00Z", "2024-03-09T08:45:00Z")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine, ids = build_store(tmp_path_factory.mktemp("families") / "imon.db")
    with Session(engine) as session:
        sat1 = next(s for s in session.query(Satellite).all() if s.name == "SAT-1")
        for ts, kind in [
            ("2024-03-08T08:10:00", "eclipse_entry"),
            ("2024-03-08T08:45:00", "eclipse_exit"),
            (ECLIPSE[0][:-1], "eclipse_entry"),
            (ECLIPSE[1][:-1], "eclipse_exit"),
        ]:
            moment = datetime.fromisoformat(ts).replace(tzinfo=UTC)
            session.add(Event(satellite_id=sat1.id or 0, ts=moment, kind=kind, text=kind))
        session.commit()
    yield engine, ids
    engine.dispose()


@pytest.fixture
def ctx(store: Any) -> ToolContext:
    return ToolContext(engine=store[0], now=lambda: NOW)


@pytest.fixture
def ids(store: Any) -> dict[str, int]:
    return dict(store[1])


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        ("hier", "2024-03-09T00:00:00", "2024-03-10T00:00:00"),
        ("depuis 15 h CET", "2024-03-09T14:00:00", "2024-03-10T12:00:00"),
        ("depuis 15h30 CET", "2024-03-09T14:30:00", "2024-03-10T12:00:00"),
        ("le mois dernier", "2024-02-09T12:00:00", "2024-03-10T12:00:00"),
        ("entre le 2 et le 5 mars", "2024-03-02T00:00:00", "2024-03-06T00:00:00"),
        ("du 2 au 5 mars", "2024-03-02T00:00:00", "2024-03-06T00:00:00"),
        ("between 2 and 5 March", "2024-03-02T00:00:00", "2024-03-06T00:00:00"),
        ("les 3 dernières heures", "2024-03-10T09:00:00", "2024-03-10T12:00:00"),
        ("cette semaine", "2024-03-04T00:00:00", "2024-03-10T12:00:00"),
        ("en février", "2024-02-01T00:00:00", "2024-03-01T00:00:00"),
        ("le 1er mars à 10 h", "2024-03-01T10:00:00", "2024-03-01T11:00:00"),
        (
            "between 2024-03-01T18:00Z and 2024-03-01T22:00Z",
            "2024-03-01T18:00:00",
            "2024-03-01T22:00:00",
        ),
    ],
)
def test_french_and_range_periods_resolve_to_utc(phrase: str, start: str, end: str) -> None:
    period = resolve(phrase, NOW)

    assert period.start == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert period.end == datetime.fromisoformat(end).replace(tzinfo=UTC)
    assert period.label == phrase


def test_period_phrase_is_cut_from_the_question_with_its_accents() -> None:
    assert find_period_phrase("anomalies des 2 dernières heures ?") == "des 2 dernières heures"
    assert find_event_phrase("quoi pendant la dernière éclipse ?") == (
        "eclipse",
        "pendant la dernière éclipse",
    )


@pytest.mark.parametrize(
    ("question", "cited", "period"),
    [
        (
            "quelles anomalies hier sur SAT-1 ?",
            ["panel"],
            "entre 2024-03-09T00:00:00Z et 2024-03-10T00:00:00Z",
        ),
        (
            "anomalies depuis 15 h CET",
            ["flat"],
            "entre 2024-03-09T14:00:00Z et 2024-03-10T12:00:00Z",
        ),
        (
            "anomalies sur SAT-1 entre le 1er et le 3 mars",
            ["jump", "wheel"],
            "entre 2024-03-01T00:00:00Z et 2024-03-04T00:00:00Z",
        ),
        (
            "anomalies on SAT-1 between March 1 and March 3",
            ["jump", "wheel"],
            "between 2024-03-01T00:00:00Z and 2024-03-04T00:00:00Z",
        ),
        ("sauts sur la tension de SAT-1", ["jump"], None),
        ("pics sur SAT-2", ["sat2"], None),
        ("anomalies critiques", ["flat"], None),
        ("level shifts on SAT-1", ["jump"], None),
    ],
)
def test_french_and_kind_questions_list_the_right_anomalies(
    ctx: ToolContext,
    ids: dict[str, int],
    question: str,
    cited: list[str],
    period: str | None,
) -> None:
    outcome = plan(ctx, question)

    assert sorted(a.id for a in outcome.result.anomalies) == sorted(ids[k] for k in cited)
    if period:
        assert period in outcome.result.answer
    assert_dates_traceable(outcome)


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("anomalies during the last eclipse", f"between {ECLIPSE[0]} and {ECLIPSE[1]}"),
        (
            "quelles anomalies pendant la dernière éclipse ?",
            f"entre {ECLIPSE[0]} et {ECLIPSE[1]} (la dernière éclipse de SAT-1)",
        ),
    ],
)
def test_last_eclipse_period_comes_from_stored_events(
    ctx: ToolContext, ids: dict[str, int], question: str, period: str
) -> None:
    outcome = plan(ctx, question)

    assert tools_of(outcome) == ["find_events", "find_events", "list_anomalies"]
    assert period in outcome.result.answer
    assert [a.id for a in outcome.result.anomalies] == [ids["panel"]]
    assert_dates_traceable(outcome, strict=False)


def test_find_events_filters_by_kind_and_orders_newest_first(ctx: ToolContext) -> None:
    result = find_events(ctx, satellite="SAT-1", kind="eclipse_entry", newest_first=True)

    assert result["total"] == 2
    assert [e["ts"] for e in result["events"]] == [ECLIPSE[0], "2024-03-08T08:10:00Z"]


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("how many anomalies last week?", 3),
        ("combien d'anomalies sur SAT-1 ?", 4),
        ("how many critical anomalies?", 1),
        ("combien d'anomalies le mois dernier ?", 5),
    ],
)
def test_count_questions_state_the_total(ctx: ToolContext, question: str, count: int) -> None:
    outcome = plan(ctx, question)

    assert outcome.result.answer.startswith(f"{count} anomal")
    assert all(c.tool in ("resolve_period", "list_anomalies") for c in outcome.result.tool_calls)


@pytest.mark.parametrize(
    ("question", "leader"),
    [
        ("which channel had the most anomalies?", "SAT-1/bus_voltage had the most"),
        ("quel canal a eu le plus d'anomalies ?", "SAT-1/bus_voltage a eu le plus d'anomalies"),
        ("which satellite had the most anomalies?", "SAT-1 had the most"),
    ],
)
def test_ranking_names_the_leader_first(ctx: ToolContext, question: str, leader: str) -> None:
    outcome = plan(ctx, question)

    assert outcome.result.answer.startswith(leader)


@pytest.mark.parametrize(
    ("question", "verdict", "cited"),
    [
        ("is SAT-2 healthy right now?", "SAT-2 looks healthy", []),
        ("is SAT-1 healthy right now?", "SAT-1 needs attention (1 ongoing anomaly)", ["flat"]),
        ("état de SAT-1 ?", "SAT-1 demande de l'attention (1 anomalie en cours)", ["flat"]),
    ],
)
def test_state_reports_ongoing_anomalies_and_fresh_data(
    ctx: ToolContext, ids: dict[str, int], question: str, verdict: str, cited: list[str]
) -> None:
    outcome = plan(ctx, question)

    assert tools_of(outcome) == ["satellite_state"]
    assert outcome.result.answer.startswith(verdict)
    fresh = "récentes" if question.startswith("état") else "fresh"
    assert f"2024-03-10T12:00:00Z ({fresh})" in outcome.result.answer
    assert [a.id for a in outcome.result.anomalies] == [ids[k] for k in cited]
    assert_dates_traceable(outcome, strict=False)


@pytest.mark.parametrize("words", ["tension", "voltage", "tension du bus", "main power"])
def test_channels_match_by_french_words_and_description(ctx: ToolContext, words: str) -> None:
    outcome = plan(ctx, f"anomalies sur SAT-1 {words}")

    assert outcome.result.tool_calls[0].arguments["channel"] == "bus_voltage"


def test_plot_request_carries_a_plot_url_with_tool_dates(ctx: ToolContext) -> None:
    outcome = plan(ctx, "show me a plot of the SAT-1 wheel speed yesterday")

    assert outcome.result.plot_url is not None
    assert outcome.result.plot_url.startswith("/channels/")
    assert "start=2024-03-09T00:00:00Z&end=2024-03-10T00:00:00Z" in outcome.result.plot_url
    assert_dates_traceable(outcome, strict=False)


@pytest.mark.parametrize(
    "questions",
    [
        ("when did the last anomaly on the wheel start?", "show me a plot of it"),
        ("quand a commencé la dernière anomalie sur la roue ?", "montre-moi un graphique"),
    ],
)
def test_plot_follow_up_plots_the_anomaly_just_cited(
    ctx: ToolContext, ids: dict[str, int], questions: tuple[str, str]
) -> None:
    outcome = converse(ctx, *questions)

    assert outcome.result.tool_calls[0].arguments == {"anomaly_id": ids["wheel"]}
    assert outcome.result.plot_url and "start=2024-03-02T09" in outcome.result.plot_url
    assert [a.id for a in outcome.result.anomalies] == [ids["wheel"]]


def test_french_follow_up_changes_channel_and_keeps_period(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    outcome = converse(ctx, "anomalies le 2 mars", "et sur la roue ?")

    assert outcome.result.tool_calls[-1].arguments["channel"] == "wheel_speed"
    assert [a.id for a in outcome.result.anomalies] == [ids["wheel"]]


def test_french_why_explains_the_channel_last_anomaly(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    outcome = plan(ctx, "pourquoi la tension de SAT-1 a sauté le 2 mars ?")

    assert tools_of(outcome)[-1] == "explain"
    assert outcome.result.tool_calls[-1].arguments == {"anomaly_id": ids["jump"]}


def test_explain_by_french_anomaly_id(ctx: ToolContext, ids: dict[str, int]) -> None:
    outcome = plan(ctx, f"pourquoi l'anomalie {ids['panel']} ?")

    assert outcome.result.tool_calls[0].arguments == {"anomaly_id": ids["panel"]}


@pytest.mark.parametrize("question", ["quel temps fait-il à Paris ?", "raconte-moi une blague"])
def test_french_unanswerable_question_gets_honest_reply(ctx: ToolContext, question: str) -> None:
    outcome = plan(ctx, question)

    assert outcome.result.answer.startswith(
        "Je ne peux pas répondre à cela avec les données de surveillance."
    )
    assert "Les questions peuvent être en français ou en anglais." in outcome.result.answer
    assert outcome.result.tool_calls == []


def test_plot_url_is_relative_with_iso_bounds() -> None:
    assert plot_url(3, "2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z") == (
        "/channels/3/plot.png?start=2024-03-09T00:00:00Z&end=2024-03-10T00:00:00Z"
    )
