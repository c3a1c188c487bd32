"""LLM mode with a scripted function-calling LLM (a llama-index mock, no network):
answers, citations, tool errors, bad calls, step bounds and the planner fallback."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from agent import ToolContext
from agent.llm import LLMConfig, answer_with_llm
from tests.llm_fakes import (
    CONFIG,
    JUMP_START,
    Script,
    call,
    free_port,
    last_tool_result,
    mode_of,
    say,
    scripted,
)


def test_answer_copies_a_date_from_a_tool_result_and_cites_the_anomaly(
    ctx: ToolContext, ids: dict[str, int]
) -> None:
    def final(messages: list[ChatMessage]) -> str:
        anomaly = last_tool_result(messages)["result"]
        return f"Anomaly #{anomaly['id']} ({anomaly['kind']}) started at {anomaly['start']}."

    script = Script(call("get_anomaly", {"anomaly_id": ids["jump"]}), say(final))

    result, state = answer_with_llm(
        ctx, "when did anomaly 1 start?", {}, CONFIG, llm=scripted(script)
    )

    assert mode_of(result) == {"mode": "llm", "model": "scripted"}
    assert result.answer == f"Anomaly #{ids['jump']} (level_shift) started at {JUMP_START}."
    assert [a.id for a in result.anomalies] == [ids["jump"]]
    assert result.anomalies[0].start == JUMP_START
    assert [(c.tool, c.arguments) for c in result.tool_calls[1:]] == [
        ("get_anomaly", {"anomaly_id": ids["jump"]})
    ]
    assert state["anomaly_ids"] == [ids["jump"]]
    assert state["llm_history"][-1]["answer"] == result.answer
    system = script.calls[0][0]
    assert system.role == MessageRole.SYSTEM and "never instructions" in (system.content or "")


def test_explain_results_become_explanations(ctx: ToolContext, ids: dict[str, int]) -> None:
    script = Script(
        call("explain", {"anomaly_id": ids["jump"]}),
        say(f"#{ids['jump']} may follow the note event at 2024-03-02T09:55:00Z."),
    )

    result, _ = answer_with_llm(ctx, "why?", {}, CONFIG, llm=scripted(script))

    assert mode_of(result)["mode"] == "llm"
    assert result.explanations and {e.anomaly_id for e in result.explanations} == {ids["jump"]}
    assert all(0 <= e.confidence <= 1 for e in result.explanations)


def test_tool_error_goes_back_to_the_model_as_a_result(ctx: ToolContext) -> None:
    script = Script(call("get_anomaly", {"anomaly_id": 987654}), say("No such anomaly exists."))

    result, _ = answer_with_llm(ctx, "show anomaly 987654", {}, CONFIG, llm=scripted(script))

    error = json.loads(script.tool_messages()[0])
    assert error["status"] == "error" and "987654" in error["error"]
    assert mode_of(result)["mode"] == "llm"
    assert result.answer == "No such anomaly exists."
    assert result.tool_calls[1].summary.startswith("error: ")


def test_unknown_tool_is_answered_as_a_tool_error(ctx: ToolContext) -> None:
    script = Script(call("drop_all_tables", {"really": True}), say("I cannot do that."))

    result, _ = answer_with_llm(ctx, "drop everything", {}, CONFIG, llm=scripted(script))

    assert "not found" in script.tool_messages()[0]
    assert mode_of(result)["mode"] == "llm"
    assert [(c.tool, c.summary[:6]) for c in result.tool_calls[1:]] == [
        ("drop_all_tables", "error:")
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"anomaly_id": 1', "not a JSON object"),
        ("not json at all", "not a JSON object"),
        ({"anomaly_id": "first"}, "anomaly_id"),
        ({"anomaly_id": 1, "tenant": "tenant-b"}, "tenant: no such argument"),
        ({}, "anomaly_id: required"),
    ],
)
def test_malformed_arguments_are_answered_as_tool_errors(
    ctx: ToolContext, arguments: dict[str, Any] | str, expected: str
) -> None:
    script = Script(call("get_anomaly", arguments), say("The call failed."))

    result, _ = answer_with_llm(ctx, "anomaly one", {}, CONFIG, llm=scripted(script))

    error = json.loads(script.tool_messages()[0])
    assert error["status"] == "error" and expected in error["error"]
    assert mode_of(result)["mode"] == "llm"


def test_a_model_that_never_stops_is_bounded_and_the_planner_answers(
    ctx: ToolContext, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(call("list_channels", {}))  # repeats for ever

    with caplog.at_level(logging.WARNING, logger="agent.llm"):
        result, _ = answer_with_llm(ctx, "list channels", {}, CONFIG, llm=scripted(script))

    assert len(script.calls) == CONFIG.max_steps
    assert mode_of(result) == {"mode": "planner", "requested": "llm", "model": "scripted"}
    assert "LLM failed" in result.tool_calls[0].summary
    assert [c.tool for c in result.tool_calls[1:]] == ["list_channels"]  # the planner's
    assert "fell back to the planner" in caplog.text


def test_an_invented_date_falls_back_to_the_planner(
    ctx: ToolContext, ids: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(
        call("get_anomaly", {"anomaly_id": ids["jump"]}),
        say(f"Anomaly #{ids['jump']} started at 2024-03-02T11:00:00Z."),
    )

    with caplog.at_level(logging.WARNING, logger="agent.llm"):
        result, _ = answer_with_llm(
            ctx, f"when did anomaly {ids['jump']} start?", {}, CONFIG, llm=scripted(script)
        )

    assert mode_of(result)["mode"] == "planner"
    assert "2024-03-02T11:00:00Z" in result.tool_calls[0].summary
    assert "2024-03-02T11:00:00Z" not in result.answer
    assert JUMP_START in result.answer  # the planner's answer, from its own tool call
    assert "dates not returned by any tool" in caplog.text


def test_an_invented_anomaly_id_falls_back_to_the_planner(ctx: ToolContext) -> None:
    script = Script(call("list_channels", {}), say("Anomaly #424242 is the worst."))

    result, _ = answer_with_llm(ctx, "list channels", {}, CONFIG, llm=scripted(script))

    assert mode_of(result)["mode"] == "planner"
    assert "#424242" in result.tool_calls[0].summary


def test_an_unreachable_endpoint_falls_back_to_the_planner(ctx: ToolContext) -> None:
    config = LLMConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout_s=5)

    result, _ = answer_with_llm(ctx, "list channels", {}, config)

    assert mode_of(result)["mode"] == "planner"
    assert "LLM failed" in result.tool_calls[0].summary
