"""LLM mode through a fake OpenAI-compatible server on 127.0.0.1: the wire format,
conversations, bad calls, bounds in steps and time, and POST /ask in LLM mode."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent import ToolContext, ask
from agent.conversations import load_state
from agent.llm import LLMConfig
from app.main import create_app
from app.settings import Settings
from tests.auth_helpers import AUTH_HEADERS
from tests.llm_fakes import (
    JUMP_END,
    JUMP_START,
    FakeOpenAI,
    mode_of,
    serve_fake_openai,
    tool_reply,
)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    with serve_fake_openai() as running:
        yield running


@pytest.fixture
def server(
    fake_openai: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeOpenAI, LLMConfig]:
    fake, url = fake_openai
    fake.replies, fake.requests = [], []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return fake, LLMConfig(base_url=url, model="fake-model", api_key="k-123", timeout_s=20)


def test_server_round_trip_with_a_tool_call_in_openai_format(
    ctx: ToolContext, ids: dict[str, int], server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [
        tool_reply("get_anomaly", json.dumps({"anomaly_id": ids["jump"]})),
        {"content": f"#{ids['jump']} started at {JUMP_START} and ended at {JUMP_END}."},
    ]

    result = ask(ctx, "when did the jump happen?", llm=config)

    assert mode_of(result) == {"mode": "llm", "model": "fake-model"}
    assert [a.id for a in result.anomalies] == [ids["jump"]]
    first, second = (r["body"] for r in fake.requests)
    assert first["model"] == "fake-model" and fake.requests[0]["auth"] == "Bearer k-123"
    assert {t["function"]["name"] for t in first["tools"]} >= {"get_anomaly", "explain"}
    get_anomaly = next(t for t in first["tools"] if t["function"]["name"] == "get_anomaly")
    assert "ctx" not in get_anomaly["function"]["parameters"]["properties"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert json.loads(tool_message["content"])["result"]["start"] == JUMP_START


def test_server_conversation_keeps_the_llm_turns(
    ctx: ToolContext, server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [{"content": "SAT-1 has one channel, bus_voltage."}]

    first = ask(ctx, "which channels?", llm=config)
    second = ask(ctx, "and again?", first.conversation_id, llm=config)

    assert second.conversation_id == first.conversation_id
    assert load_state(ctx.engine, str(first.conversation_id))["llm_history"][0] == {
        "question": "which channels?",
        "answer": "SAT-1 has one channel, bus_voltage.",
    }
    roles = [m["role"] for m in fake.requests[-1]["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_server_malformed_arguments_and_unknown_tool(
    ctx: ToolContext, server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [
        tool_reply("get_anomaly", '{"anomaly_id": '),
        tool_reply("rm_rf", "{}"),
        {"content": "I could not look that up."},
    ]

    result = ask(ctx, "anomaly?", llm=config)

    messages = fake.requests[-1]["body"]["messages"]
    tool_texts = [m["content"] for m in messages if m["role"] == "tool"]
    assert "not a JSON object" in tool_texts[0]
    assert "not found" in tool_texts[1]
    assert mode_of(result)["mode"] == "llm"
    assert [c.tool for c in result.tool_calls[1:]] == ["get_anomaly", "rm_rf"]


def test_server_that_never_stops_falls_back(
    ctx: ToolContext, server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [tool_reply("list_channels", "{}")]

    result = ask(ctx, "list channels", llm=config)

    assert len(fake.requests) == config.max_steps
    assert mode_of(result)["mode"] == "planner"


def test_server_too_slow_falls_back_within_the_timeout(
    ctx: ToolContext, server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [{"content": "late", "delay_s": 2.5}]
    quick = LLMConfig(base_url=config.base_url, model=config.model, timeout_s=1)

    started = time.monotonic()
    result = ask(ctx, "list channels", llm=quick)

    assert time.monotonic() - started < 4
    assert mode_of(result)["mode"] == "planner"
    assert "Timeout" in result.tool_calls[0].summary


def test_server_invented_date_falls_back(
    ctx: ToolContext, ids: dict[str, int], server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [
        tool_reply("get_anomaly", json.dumps({"anomaly_id": ids["jump"]})),
        {"content": f"#{ids['jump']} started on 2023-12-25."},
    ]

    result = ask(ctx, f"when did anomaly {ids['jump']} start?", llm=config)

    assert mode_of(result)["mode"] == "planner"
    assert "2023-12-25" not in result.answer


def test_post_ask_in_llm_mode_answers_through_the_endpoint(
    tmp_path: Path, server: tuple[FakeOpenAI, LLMConfig]
) -> None:
    fake, config = server
    fake.replies = [tool_reply("list_channels", "{}"), {"content": "No channels are stored."}]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path,
        worker=False,
        simulator=False,
        index=False,
        agent_mode="llm",
        llm_base_url=config.base_url,
        llm_model="fake-model",
    )

    with TestClient(create_app(settings), headers=AUTH_HEADERS) as client:
        response = client.post("/ask", json={"question": "which channels exist?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "No channels are stored."
    assert [c["tool"] for c in body["tool_calls"]] == ["agent_mode", "list_channels"]
    assert set(body) == {
        "answer",
        "anomalies",
        "explanations",
        "tool_calls",
        "conversation_id",
        "plot_url",
    }
