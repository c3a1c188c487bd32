"""Which agent answers ``/ask``: the settings' ``agent_mode`` as what ``agent.ask`` takes."""

from __future__ import annotations

from agent.llm import LLMConfig
from app.settings import Settings


def llm_config(settings: Settings) -> LLMConfig | None:
    """The LLM endpoint and bounds when ``agent_mode`` is ``llm``; None for the planner."""
    if settings.agent_mode != "llm":
        return None
    return LLMConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value(),
        max_steps=settings.llm_max_steps,
        timeout_s=settings.llm_timeout_s,
    )
