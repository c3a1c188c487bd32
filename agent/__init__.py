"""The agent: tools over the store, the offline planner and the answer shape.

``ask`` is the entry point of ``POST /ask`` and ``imon ask``: it loads the
conversation state, plans and answers, and saves the state.
"""

from __future__ import annotations

from contextlib import nullcontext

from agent.admission import PLANNER
from agent.catalog import question_scope
from agent.context import ToolContext
from agent.conversations import load_state, new_conversation_id, save_state
from agent.errors import AgentError, NotFoundError, PeriodError
from agent.llm import LLMConfig, answer_with_llm
from agent.planner import answer
from agent.schema import AskRequest, AskResult, CitedAnomaly, Explanation, ToolCall
from agent.tools import TOOLS


def ask(
    ctx: ToolContext,
    question: str,
    conversation_id: str | None = None,
    *,
    llm: LLMConfig | None = None,
) -> AskResult:
    """Answer ``question`` within a conversation (a new one when no id is given).

    The offline planner answers, or the LLM agent when ``llm`` says where it is
    (see :mod:`agent.llm`; it falls back to the planner).

    Raises:
        pydantic.ValidationError: the question is blank or too long, or the
            conversation id is malformed (see :class:`AskRequest`).
        UnknownConversationError: the conversation id is one of another tenant.
    """
    request = AskRequest(question=question, conversation_id=conversation_id)
    # planner answers a few at a time (see agent.admission); an LLM's answer mostly waits
    with PLANNER.held() if llm is None else nullcontext():
        result, conversation = _ask(ctx, request, llm)
    return result.model_copy(update={"conversation_id": conversation})


def _ask(ctx: ToolContext, request: AskRequest, llm: LLMConfig | None) -> tuple[AskResult, str]:
    conversation = request.conversation_id or new_conversation_id()
    fresh = request.conversation_id is None  # a new id (uuid4) names no stored conversation
    state = {} if fresh else load_state(ctx.engine, conversation, ctx.tenant)
    with question_scope():  # one catalogue read shared by the question's tool calls
        if llm is None:
            result, new_state = answer(ctx, request.question, state)
        else:
            result, new_state = answer_with_llm(ctx, request.question, state, llm)
    save_state(ctx.engine, conversation, new_state, ctx.tenant, new=fresh)
    return result, conversation


__all__ = [
    "TOOLS",
    "AgentError",
    "AskRequest",
    "AskResult",
    "CitedAnomaly",
    "Explanation",
    "LLMConfig",
    "NotFoundError",
    "PeriodError",
    "ToolCall",
    "ToolContext",
    "ask",
]
