"""The planner answers in the question's language: French questions get French answers,
English ones English answers, and a follow-up whose words do not tell keeps the
conversation's language. Dates stay the tools' ISO 8601 strings in both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from agent import ToolContext
from agent.lexicon import language
from agent.planner import plan
from tests.test_agent_planner import assert_dates_traceable, converse
from tests.test_agent_tools import NOW, build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, int]]]:
    engine, ids = build_store(tmp_path_factory.mktemp("french") / "imon.db")
    yield engine, ids
    engine.dispose()


@pytest.fixture
def ctx(store: tuple[Engine, dict[str, int]]) -> ToolContext:
    return ToolContext(engine=store[0], now=lambda: NOW)


@pytest.fixture
def ids(store: tuple[Engine, dict[str, int]]) -> dict[str, int]:
    return dict(store[1])


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("quelles anomalies hier sur sat-1".split(), "fr"),
        ("etat de smap".split(), "fr"),
        ("pourquoi l anomalie 12".split(), "fr"),
        ("which anomalies happened yesterday".split(), "en"),
        ("is sat-1 healthy right now".split(), "en"),
        ("anomalies".split(), None),
        ("sat-1".split(), None),
    ],
)
def test_language_is_told_by_marker_words(words: list[str], expected: str | None) -> None:
    assert language(words) == expected


@pytest.mark.parametrize(
    ("question", "french", "english"),
    [
        ("quelles anomalies hier sur SAT-1 ?", "Anomalies sur SAT-1 entre", "found"),
        ("combien d'anomalies sur SAT-1 ?", "4 anomalies sur SAT-1 sur toutes", " on "),
        ("quand a commencé la dernière anomalie sur la roue ?", "elle a commencé à", "started"),
        ("liste des canaux de SAT-1", "canal(aux) sur SAT-1 :", "channel(s)"),
        ("est-ce que SAT-2 est en bonne santé ?", "SAT-2 semble en bonne santé", "healthy"),
        ("anomalies de la roue pendant la dernière éclipse ?", "Aucune éclipse", "eclipse"),
        (
            "quels canaux ont été touchés hier ?",
            "1 canal(aux) ont eu des anomalies sur",
            "channel",
        ),
        ("quels canaux ont été touchés ?", "4 canal(aux) ont eu des anomalies sur", "channel"),
    ],
)
def test_french_questions_get_french_answers(
    ctx: ToolContext, question: str, french: str, english: str
) -> None:
    outcome = plan(ctx, question)

    assert french.lower() in outcome.result.answer.lower(), outcome.result.answer
    assert english not in outcome.result.answer
    assert "Je n'ai pas reconnu" not in outcome.result.answer  # French words are known
    assert outcome.conversation["lang"] == "fr"
    assert_dates_traceable(outcome, strict=False)


def test_french_explanation_keeps_the_tool_dates_and_says_none_is_certain(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    outcome = plan(ctx, f"pourquoi l'anomalie {ids['jump']} ?")

    answer = outcome.result.answer
    assert answer.startswith(f"Anomalie #{ids['jump']} sur SAT-1/bus_voltage (level_shift")
    assert "Explications possibles, aucune n'est certaine :" in answer
    assert "(confiance " in answer and "Indices : " in answer
    assert "Possible explanations" not in answer and "Evidence:" not in answer
    assert [a.id for a in outcome.result.anomalies][:1] == [ids["jump"]]
    assert_dates_traceable(outcome, strict=False)


def test_english_questions_keep_english_answers(ctx: ToolContext, ids: dict[str, int]) -> None:
    outcome = plan(ctx, f"explain anomaly {ids['jump']}")

    assert "Possible explanations, none of them certain:" in outcome.result.answer
    assert "Explications" not in outcome.result.answer
    assert outcome.conversation["lang"] == "en"


@pytest.mark.parametrize(
    ("questions", "expected"),
    [
        (("anomalies sur SAT-1 hier", "SAT-2 ?"), "sur SAT-2"),
        (("anomalies on SAT-1 yesterday", "SAT-2 ?"), "on SAT-2"),
        (("anomalies on SAT-1 yesterday", "et sur SAT-2 ?"), "sur SAT-2"),
    ],
)
def test_a_follow_up_without_telling_words_keeps_the_conversation_language(
    ctx: ToolContext, questions: tuple[str, ...], expected: str
) -> None:
    outcome = converse(ctx, *questions)

    assert expected in outcome.result.answer, outcome.result.answer


def test_french_error_replies_name_what_to_ask_in_french(ctx: ToolContext) -> None:
    outcome = plan(ctx, "pourquoi l'anomalie 987654 ?")

    assert "Demandez 'quelles anomalies la semaine dernière ?'" in outcome.result.answer
