"""POST /ask: questions in plain language, answered from tool results."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from agent import ask as ask_agent
from agent.conversations import UnknownConversationError
from agent.errors import AgentError
from agent.schema import AskRequest, AskResult
from app.agent_mode import llm_config
from app.deps import ServicesDep, TenantDep
from app.web_session import signed_link

router = APIRouter(tags=["ask"])


@router.post("/ask", response_model=AskResult, openapi_extra={"x-scope": "ask"})
def ask(request: Request, body: AskRequest, services: ServicesDep, tenant: TenantDep) -> AskResult:
    """Answer a question; the JSON carries the cited anomalies and the tool trace.

    `plot_url` is a signed link (`tenant`, `exp`, `sig`) so an `<img>` shows it keyless.
    """
    if len(body.question) > services.settings.max_question_chars:
        raise HTTPException(
            422,
            detail=f"question: {len(body.question)} characters, at most "
            f"{services.settings.max_question_chars}",
        )
    try:
        result = ask_agent(
            services.tool_context(tenant),
            body.question,
            body.conversation_id,
            llm=llm_config(services.settings),
        )
    except UnknownConversationError as error:  # another tenant's id: as if unknown
        raise HTTPException(404, detail=str(error)) from None
    except AgentError as error:
        raise HTTPException(400, detail=str(error)) from None
    if result.plot_url:
        result = result.model_copy(
            update={"plot_url": signed_link(request, result.plot_url, tenant)}
        )
    return result
