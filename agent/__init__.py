"""The agent: tools over the store, the offline planner and the answer shape.

``ask`` is the entry point of ``POST /ask`` and ``imon ask``: it loads the
conversation state, plans and answers, and saves the state.
"""

from __future__ import annotations

from agent.context import ToolContext
from agent.conversations import load_state, new_conversation_id, save_state
from agent.errors import AgentError, NotFoundError, PeriodError
from agent.planner import answer
from agent.schema import AskRequest, AskResult, CitedAnomaly, Explanation, ToolCall
from agent.tools import TOOLS


def ask(ctx: ToolContext, question: str, conversation_id: str | None = None) -> AskResult:
    """Answer ``question`` within a conversation (a new one when no id is given).

    Raises:
        pydantic.ValidationError: the question is blank or too long, or the
            conversation id is malformed (see :class:`AskRequest`).
    """
    request = AskRequest(question=question, conversation_id=conversation_id)
    conversation = request.conversation_id or new_conversation_id()

    state = load_state(ctx.engine, conversation)
    result, new_state = answer(ctx, request.question, state)
    save_state(ctx.engine, conversation, new_state)

    return result.model_copy(update={"conversation_id": conversation})


__all__ = [
    "TOOLS",
    "AgentError",
    "AskRequest",
    "AskResult",
    "CitedAnomaly",
    "Explanation",
    "NotFoundError",
    "PeriodError",
    "ToolCall",
    "ToolContext",
    "ask",
]
