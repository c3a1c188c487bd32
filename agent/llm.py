"""LLM mode of ``/ask``: a llama-index agent over the same tools, guarded, with a fallback.

The agent (:mod:`agent.llm_agent`) calls the tools of :data:`agent.tools.TOOLS`
through an OpenAI-compatible endpoint; its answer leaves only when every ISO date in
it is one a tool returned and every ``#id`` it cites is an anomaly a tool returned
(:mod:`agent.llm_guard`). Otherwise, and on any failure of the LLM (unreachable,
HTTP error, too many steps, timeout), the offline planner answers and the trace says
why. The first entry of ``tool_calls`` is always ``agent_mode``, naming the mode that
answered.

llama-index is imported only when this mode answers, so the planner mode and the
CLI start without it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.context import ToolContext
from agent.llm_guard import AnswerRejected, check_answer, cited_ids
from agent.planner import answer as planner_answer
from agent.schema import AskResult, CitedAnomaly, ToolCall

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from agent.llm_tools import Toolbox

logger = logging.getLogger(__name__)

#: Tool calls answered per allowed LLM step (a step may call several tools at once).
CALLS_PER_STEP = 4
#: Question/answer pairs of a conversation given back to the model.
MAX_HISTORY_TURNS = 5
#: Characters of a failure reason kept in the trace and the log.
MAX_REASON_CHARS = 300
#: The pseudo tool name of the trace entry that says which mode answered.
MODE_ENTRY = "agent_mode"


@dataclass(frozen=True)
class LLMConfig:
    """Where the OpenAI-compatible endpoint is and how far the agent may go.

    Attributes:
        base_url: the endpoint's base URL, ending in ``/v1`` for most servers.
        model: model name as the server knows it.
        api_key: bearer token; empty for servers without authentication. Never logged.
        max_steps: LLM calls per question (each may call tools), at least 1.
        timeout_s: seconds for the whole answer, tool calls included.
    """

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    max_steps: int = 8
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url={self.base_url!r} must be an http(s) URL such as "
                "'http://127.0.0.1:11434/v1'"
            )
        if not self.model.strip():
            raise ValueError("model is blank: give the model name the server serves")
        if self.max_steps < 1:
            raise ValueError(f"max_steps={self.max_steps} must be at least 1")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s={self.timeout_s} must be a positive number of seconds")


def answer_with_llm(
    ctx: ToolContext,
    question: str,
    conversation: dict[str, Any] | None,
    config: LLMConfig,
    llm: LLM | None = None,
) -> tuple[AskResult, dict[str, Any]]:
    """Answer ``question`` with the LLM agent, or with the planner when that fails.

    Args:
        ctx: what the tools receive first.
        question: the checked question.
        conversation: the conversation state (planner keys plus ``llm_history``).
        config: the endpoint and the agent's bounds.
        llm: a llama-index function-calling LLM to use instead of the endpoint (tests).

    Returns:
        The answer and the updated conversation state.
    """
    from agent import llm_agent
    from agent.llm_tools import Toolbox

    state = dict(conversation or {})
    history = list(state.get("llm_history", []))[-MAX_HISTORY_TURNS:]
    toolbox = Toolbox(ctx, max_calls=config.max_steps * CALLS_PER_STEP)
    started = time.monotonic()

    try:
        model = llm or llm_agent.build_llm(
            config.base_url, config.model, config.api_key, config.timeout_s
        )
        text = llm_agent.run_agent(
            model,
            toolbox,
            question,
            llm_agent.history_messages(history),
            config.max_steps,
            config.timeout_s,
        )
        check_answer(text, toolbox.results(), set(toolbox.anomalies()))
    except AnswerRejected as exc:
        reason = f"answer rejected: {exc}"
    except Exception as exc:  # any failure of the LLM or its client means: the planner answers
        reason = f"LLM failed: {type(exc).__name__}: {exc}"
    else:
        elapsed = time.monotonic() - started
        logger.info(
            "LLM %s answered with %d tool calls in %.1f s",
            config.model,
            len(toolbox.records),
            elapsed,
        )
        result = _llm_result(text, toolbox, config)
        new_state = {
            **state,
            "anomaly_ids": [a.id for a in result.anomalies] or state.get("anomaly_ids", []),
            "llm_history": _remember(history, question, text),
        }
        return result, new_state

    reason = reason[:MAX_REASON_CHARS]
    logger.warning(
        "LLM mode fell back to the planner after %d tool calls: %s", len(toolbox.records), reason
    )
    result, new_state = planner_answer(ctx, question, state)
    entry = ToolCall(
        tool=MODE_ENTRY,
        arguments={"mode": "planner", "requested": "llm", "model": config.model},
        summary=f"the offline planner answered: {reason}",
    )
    new_state["llm_history"] = _remember(history, question, result.answer)
    return result.model_copy(update={"tool_calls": [entry, *result.tool_calls]}), new_state


def _llm_result(text: str, toolbox: Toolbox, config: LLMConfig) -> AskResult:
    """The AskResult of a checked LLM answer: citations resolved from the tool results."""
    seen = toolbox.anomalies()
    ids = [i for i in cited_ids(text) if i in seen]
    cited = [
        CitedAnomaly.model_validate({k: seen[i][k] for k in CitedAnomaly.model_fields})
        for i in ids
    ]
    explanations = toolbox.explanations()
    if ids:
        explanations = [e for e in explanations if e.anomaly_id in ids]
    entry = ToolCall(
        tool=MODE_ENTRY,
        arguments={"mode": "llm", "model": config.model},
        summary=(
            f"answered by the LLM after {len(toolbox.records)} tool calls; "
            "every date and anomaly id checked against the tool results"
        ),
    )
    return AskResult(
        answer=text,
        anomalies=cited,
        explanations=explanations,
        tool_calls=[entry, *toolbox.trace()],
    )


def _remember(history: list[dict[str, str]], question: str, answer: str) -> list[dict[str, str]]:
    return [*history, {"question": question, "answer": answer}][-MAX_HISTORY_TURNS:]
