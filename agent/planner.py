"""The offline, deterministic planner: question → tool calls → answer with citations.

The question is read by :mod:`agent.understanding` (intent by keyword scores, names
by fuzzy matching, the time expression left to the ``resolve_period`` tool); one
handler per intent calls the tools and :mod:`agent.compose` words the answer from
their results. Follow-up questions ("and on the wheel?", "why?") reuse the
conversation state: the last intent, satellite, channels, period and anomaly ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from agent import catalog, compose, handlers, handlers_models, handlers_more
from agent.catalog import CatalogEntry
from agent.context import ToolContext
from agent.errors import AgentError
from agent.schema import AskResult, CitedAnomaly
from agent.toolbox import Run
from agent.understanding import Reading, read

logger = logging.getLogger(__name__)

#: Anomaly ids remembered for follow-ups.
MAX_REMEMBERED = 50


@dataclass
class Plan:
    """An answer, the conversation state after it, and the raw tool results behind it."""

    result: AskResult
    conversation: dict[str, Any]
    results: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)


def answer(
    ctx: ToolContext, question: str, conversation: dict[str, Any] | None = None
) -> tuple[AskResult, dict[str, Any]]:
    """Answer ``question``; returns the answer and the updated conversation state."""
    outcome = plan(ctx, question, conversation)
    return outcome.result, outcome.conversation


def plan(ctx: ToolContext, question: str, conversation: dict[str, Any] | None = None) -> Plan:
    """Like :func:`answer`, also returning the raw tool results (for tests and traces)."""
    with catalog.question_scope():  # the catalogue is read once for the whole question
        return _plan(ctx, question, conversation)


def _plan(ctx: ToolContext, question: str, conversation: dict[str, Any] | None) -> Plan:
    state = dict(conversation or {})
    with Session(ctx.engine) as session:
        entries = catalog.catalog(session, ctx.tenant)
        satellites = [name for _, name in catalog.satellites(session, ctx.tenant)]
    reading = read(question, entries, satellites)
    # a question whose words do not tell its language ("SAT-1?") keeps the conversation's
    reading.lang = reading.lang or state.get("lang") or "en"
    intent = _intent(reading, state)
    if intent is not None and (reading.follow_up or reading.intent is None):
        _inherit(reading, state, entries)
    run = Run(ctx)

    handler = HANDLERS.get(intent or "", _cannot_answer)
    try:
        text = handler(run, reading, state)
    except AgentError as exc:
        text = f"{_sentence(str(exc))} {_hint(intent, reading.lang)}".strip()
    logger.info("question answered as %s with %d tool calls", intent, len(run.calls))

    cited_ids = [int(n) for n in dict.fromkeys(re.findall(r"#(\d+)\b", text))]
    cited = [_cited(run.seen[i]) for i in cited_ids if i in run.seen]
    # what this turn did not name stays as it was, for the next follow-up
    new_state = {
        "intent": intent,
        "satellite": reading.satellite or state.get("satellite"),
        "channels": [[e.satellite, e.channel] for e in reading.channels]
        or state.get("channels", []),
        "period_phrase": reading.period_phrase
        or (None if reading.event_kind else state.get("period_phrase")),
        "event_kind": reading.event_kind
        or (None if reading.period_phrase else state.get("event_kind")),
        "anomaly_ids": [c.id for c in cited][:MAX_REMEMBERED] or state.get("anomaly_ids", []),
        "lang": reading.lang,
    }
    if reading.satellite and not reading.channels:
        new_state["channels"] = []  # a newly named satellite drops the old channels
    result = AskResult(
        answer=text,
        anomalies=cited,
        explanations=[e for e in run.explanations if e.anomaly_id in cited_ids],
        tool_calls=run.calls,
        plot_url=run.plot_url,
    )
    return Plan(result=result, conversation=new_state, results=run.results)


def _intent(reading: Reading, state: dict[str, Any]) -> str | None:
    if reading.intent is not None:
        return reading.intent
    if state.get("intent") and (reading.has_slots or reading.follow_up):
        return str(state["intent"])
    return None


def _inherit(reading: Reading, state: dict[str, Any], entries: list[CatalogEntry]) -> None:
    """Fill what a follow-up leaves out from the conversation state."""
    if reading.satellite is None and not reading.channels:
        reading.satellite = state.get("satellite")
    if not reading.channels and not reading.anomaly_ids:
        wanted = {tuple(pair) for pair in state.get("channels", [])}
        reading.channels = [
            e
            for e in entries
            if (e.satellite, e.channel) in wanted and reading.satellite in (None, e.satellite)
        ]
    if reading.period_phrase is None and reading.event_kind is None:
        reading.period_phrase = state.get("period_phrase")
        reading.event_kind = state.get("event_kind")


HANDLERS: dict[str, Callable[[Run, Reading, dict[str, Any]], str]] = {
    "list_anomalies": handlers.list_anomalies,
    "last_time": handlers.last_time,
    "explain": handlers.explain,
    "affected_channels": handlers.affected_channels,
    "list_channels": handlers.list_channels,
    "summary": handlers.summary,
    "detect": handlers.detect,
    "get_anomaly": handlers.get_anomaly,
    "count": handlers_more.count,
    "ranking": handlers_more.ranking,
    "state": handlers_more.satellite_state,
    "plot": handlers_more.plot,
    "model": handlers_models.model_info,
    "forecast": handlers_models.forecast_crossing,
}


def _cannot_answer(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    return compose.cannot_answer(reading.lang)


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


def _hint(intent: str | None, lang: str | None) -> str:
    if intent in ("explain", "get_anomaly"):
        return compose.pick(
            lang,
            "Ask 'which anomalies happened in the last week?' to see existing ids.",
            "Demandez 'quelles anomalies la semaine dernière ?' pour voir les numéros.",
        )
    return compose.pick(
        lang,
        "Ask 'list channels' to see the satellites and channels I know.",
        "Demandez 'liste des canaux' pour voir les satellites et canaux que je connais.",
    )


def _cited(anomaly: dict[str, Any]) -> CitedAnomaly:
    return CitedAnomaly(**{k: anomaly[k] for k in CitedAnomaly.model_fields})
