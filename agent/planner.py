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

from agent import catalog, compose
from agent.catalog import CatalogEntry
from agent.context import ToolContext
from agent.errors import AgentError
from agent.schema import AskResult, CitedAnomaly, Explanation, ToolCall
from agent.tools import TOOLS
from agent.understanding import Reading, read

logger = logging.getLogger(__name__)

#: Anomalies fetched per list_anomalies call before ranking and capping the answer.
FETCH_LIMIT = 200
#: Channels queried one by one for a question naming several (ties of the name match).
MAX_CHANNEL_CALLS = 5
#: Anomalies explained for one question.
MAX_EXPLAINED = 3
#: Anomaly ids remembered for follow-ups.
MAX_REMEMBERED = 50


@dataclass
class Plan:
    """An answer, the conversation state after it, and the raw tool results behind it."""

    result: AskResult
    conversation: dict[str, Any]
    results: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)


class _Run:
    """Calls tools for one question and records each call, its summary and result."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.calls: list[ToolCall] = []
        self.results: list[tuple[str, dict[str, Any], Any]] = []
        self.seen: dict[int, dict[str, Any]] = {}
        self.explanations: list[Explanation] = []

    def call(self, tool: str, **arguments: Any) -> Any:
        arguments = {k: v for k, v in arguments.items() if v is not None}
        try:
            result = TOOLS[tool](self.ctx, **arguments)
        except AgentError as exc:
            self.calls.append(ToolCall(tool=tool, arguments=arguments, summary=f"error: {exc}"))
            raise
        summary = _tool_summary(tool, result)
        self.calls.append(ToolCall(tool=tool, arguments=arguments, summary=summary))
        self.results.append((tool, arguments, result))
        self._remember(result)
        return result

    def _remember(self, value: Any) -> None:
        """Collect every anomaly in a result, so the text's citations can be resolved."""
        if isinstance(value, dict):
            if {"id", "satellite", "channel", "start", "end", "kind"} <= value.keys():
                self.seen.setdefault(int(value["id"]), value)
            for item in value.values():
                self._remember(item)
        elif isinstance(value, list):
            for item in value:
                self._remember(item)


def answer(
    ctx: ToolContext, question: str, conversation: dict[str, Any] | None = None
) -> tuple[AskResult, dict[str, Any]]:
    """Answer ``question``; returns the answer and the updated conversation state."""
    outcome = plan(ctx, question, conversation)
    return outcome.result, outcome.conversation


def plan(ctx: ToolContext, question: str, conversation: dict[str, Any] | None = None) -> Plan:
    """Like :func:`answer`, also returning the raw tool results (for tests and traces)."""
    state = dict(conversation or {})
    with Session(ctx.engine) as session:
        entries = catalog.catalog(session, ctx.tenant)
        satellites = [name for _, name in catalog.satellites(session, ctx.tenant)]
    reading = read(question, entries, satellites)
    intent = _intent(reading, state)
    if intent is not None and (reading.follow_up or reading.intent is None):
        _inherit(reading, state, entries)
    run = _Run(ctx)

    handler = HANDLERS.get(intent or "", _cannot_answer)
    try:
        text = handler(run, reading, state)
    except AgentError as exc:
        text = f"{_sentence(str(exc))} {_hint(intent)}".strip()
    logger.info("question answered as %s with %d tool calls", intent, len(run.calls))

    cited_ids = [int(n) for n in dict.fromkeys(re.findall(r"#(\d+)\b", text))]
    cited = [_cited(run.seen[i]) for i in cited_ids if i in run.seen]
    # what this turn did not name stays as it was, for the next follow-up
    new_state = {
        "intent": intent,
        "satellite": reading.satellite or state.get("satellite"),
        "channels": [[e.satellite, e.channel] for e in reading.channels]
        or state.get("channels", []),
        "period_phrase": reading.period_phrase or state.get("period_phrase"),
        "anomaly_ids": [c.id for c in cited][:MAX_REMEMBERED] or state.get("anomaly_ids", []),
    }
    if reading.satellite and not reading.channels:
        new_state["channels"] = []  # a newly named satellite drops the old channels
    result = AskResult(
        answer=text,
        anomalies=cited,
        explanations=[e for e in run.explanations if e.anomaly_id in cited_ids],
        tool_calls=run.calls,
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
    if reading.period_phrase is None:
        reading.period_phrase = state.get("period_phrase")


# --- handlers, one per intent ----------------------------------------------------------


def _list_anomalies(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    period = _period(run, reading)
    found, total = _anomalies(run, reading, period, FETCH_LIMIT)
    kind = reading.kind.replace("_", " ").capitalize() if reading.kind else ""
    what = f"{kind} anomalies" if kind else "Anomalies"
    if reading.min_severity:
        what += f" of severity {reading.min_severity} or more"
    where = f"{what} on {_scope(reading)} {compose.period_text(period)}"
    text = compose.anomaly_list(found, total, where, f"No {where[0].lower()}{where[1:]}.")
    return _unknown_note(reading) + text


def _last_time(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    ids = state.get("anomaly_ids") or []
    if reading.pronoun and not (reading.channels or reading.satellite) and ids:
        anomaly = run.call("get_anomaly", anomaly_id=int(ids[0]))
        return _when_sentence(anomaly, f"Anomaly #{anomaly['id']}", reading.asks_end)
    period = _period(run, reading)
    found, _ = _anomalies(run, reading, period, 1)
    if not found:
        return _unknown_note(reading) + (
            f"No anomaly on {_scope(reading)} {compose.period_text(period)}."
        )
    last = max(found, key=compose.start_of)
    subject = (
        f"The last anomaly on {_scope(reading)} {compose.period_text(period)} is #{last['id']}"
    )
    return _unknown_note(reading) + _when_sentence(last, subject, reading.asks_end)


def _explain(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    intro = ""
    ids = list(reading.anomaly_ids)
    if not ids and (reading.channels or reading.satellite):
        period = _period(run, reading)
        found, _ = _anomalies(run, reading, period, 1, reading.kind)  # "jump": a level shift
        if not found and reading.kind:
            found, _ = _anomalies(run, reading, period, 1)
        if not found:
            return f"No anomaly on {_scope(reading)} {compose.period_text(period)} to explain."
        ids = [int(max(found, key=compose.start_of)["id"])]
        intro = f"The last anomaly on {_scope(reading)} {compose.period_text(period)}: "
    if not ids and state.get("anomaly_ids"):
        ids = [int(state["anomaly_ids"][0])]
        if len(state["anomaly_ids"]) > 1:
            intro = "Explaining the first anomaly of the previous answer. "
    if not ids:
        return (
            "Which anomaly should I explain? Give its id ('explain anomaly 12') or a "
            "channel ('why did the bus voltage jump?')."
        )

    blocks = []
    for anomaly_id in ids[:MAX_EXPLAINED]:
        result = run.call("explain", anomaly_id=anomaly_id)
        block, shown = compose.explanation_block(result, intro)
        blocks.append(block)
        run.explanations += [
            Explanation(
                anomaly_id=anomaly_id,
                cause=item["cause"],
                evidence=item["evidence"],
                confidence=item["confidence"],
            )
            for item in shown
        ]
        intro = ""
    return "\n\n".join(blocks)


def _affected_channels(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    period = _period(run, reading)
    found, total = _anomalies(run, reading, period, 1000)
    where = f"{_scope(reading)} {compose.period_text(period)}"
    if not found:
        return _unknown_note(reading) + f"No channel had anomalies on {where}."
    groups: dict[str, list[dict[str, Any]]] = {}
    for anomaly in compose.by_severity_then_recency(found):
        groups.setdefault(f"{anomaly['satellite']}/{anomaly['channel']}", []).append(anomaly)
    lines = [f"{len(groups)} channel(s) had anomalies on {where}:"]
    for name, items in list(groups.items())[: compose.MAX_CHANNELS_LISTED]:
        ids = ", ".join(f"#{a['id']}" for a in items[:5])
        more = f" and {len(items) - 5} more" if len(items) > 5 else ""
        lines.append(
            f"- {name}: {len(items)} anomal{'y' if len(items) == 1 else 'ies'} "
            f"(worst {items[0]['severity']}; {ids}{more})"
        )
    if total > len(found):
        lines.append(f"Only the newest {len(found)} of {total} anomalies were grouped.")
    return _unknown_note(reading) + "\n".join(lines)


def _list_channels(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    result = run.call("list_channels", satellite=reading.satellite)
    channels = result["channels"]
    scope = reading.satellite or "all satellites"
    if not channels:
        return f"No channels are stored for {scope}."
    lines = [f"{len(channels)} channel(s) on {scope}:"]
    for item in channels[: compose.MAX_CHANNELS_LISTED]:
        unit = f" [{item['unit']}]" if item["unit"] else ""
        about = f": {item['description']}" if item["description"] else ""
        lines.append(
            f"- {item['satellite']}/{item['name']}{unit}{about} ({item['points']} points)"
        )
    if len(channels) > compose.MAX_CHANNELS_LISTED:
        lines.append(f"… and {len(channels) - compose.MAX_CHANNELS_LISTED} more.")
    return "\n".join(lines)


def _summary(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    if not reading.channels:
        return "Which channel should I summarise? Ask 'list channels' to see their names."
    period = _period(run, reading)
    blocks = []
    for entry in reading.channels[:MAX_CHANNEL_CALLS]:
        result = run.call(
            "channel_summary",
            channel=entry.channel,
            satellite=entry.satellite,
            start=period and period["start"],
            end=period and period["end"],
        )
        unit = f" {result['unit']}" if result["unit"] else ""
        text = f"{result['satellite']}/{result['channel']} {compose.period_text(period)}: "
        if result["points"] == 0:
            text += "no stored points"
        else:
            text += (
                f"{result['points']} points from {result['first']} to {result['last']}; "
                f"min {compose.number(result['min'])}, max {compose.number(result['max'])}, "
                f"mean {compose.number(result['mean'])}{unit}"
            )
        ids = ", ".join(f"#{a['id']}" for a in result["anomalies"][:10])
        count = result["anomaly_count"]
        text += f"; {count} anomal{'y' if count == 1 else 'ies'}" + (f" ({ids})" if ids else "")
        blocks.append(text + ".")
    return "\n".join(blocks)


def _detect(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    if not reading.channels:
        return "On which channel should I run the detectors? Ask 'list channels' for names."
    entry = reading.channels[0]
    period = _period(run, reading)
    result = run.call(
        "detect",
        channel=entry.channel,
        satellite=entry.satellite,
        start=period and period["start"],
        end=period and period["end"],
    )
    where = f"{result['satellite']}/{result['channel']} {compose.period_text(period)}"
    if result["points"] == 0:
        return f"There are no stored points on {where}, so nothing was scanned."
    lines = [
        f"Ran the detectors on {where}: {result['points']} points from {result['first']} to "
        f"{result['last']}; {len(result['anomalies'])} anomalies found (not stored)."
    ]
    if result["truncated"]:
        lines.append("Only the newest points of the range were scanned; narrow the period.")
    for item in result["anomalies"][: compose.MAX_LISTED]:
        lines.append(f"- {item['kind']}, {item['severity']}, {compose.when_text(item)}")
    return "\n".join(lines)


def _get_anomaly(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    lines = []
    for anomaly_id in reading.anomaly_ids[:MAX_EXPLAINED]:
        item = run.call("get_anomaly", anomaly_id=anomaly_id)
        lines.append(
            f"Anomaly #{item['id']} on {item['satellite']}/{item['channel']}: {item['kind']}, "
            f"{item['severity']} severity, status {item['status']}, {compose.when_text(item)}."
        )
    return "\n".join(lines) + "\nAsk 'why?' for possible explanations."


def _cannot_answer(run: _Run, reading: Reading, state: dict[str, Any]) -> str:
    return "I cannot answer that from the monitoring data. " + compose.CAPABILITIES


HANDLERS: dict[str, Callable[[_Run, Reading, dict[str, Any]], str]] = {
    "list_anomalies": _list_anomalies,
    "last_time": _last_time,
    "explain": _explain,
    "affected_channels": _affected_channels,
    "list_channels": _list_channels,
    "summary": _summary,
    "detect": _detect,
    "get_anomaly": _get_anomaly,
}


# --- helpers -----------------------------------------------------------------------------


def _period(run: _Run, reading: Reading) -> dict[str, Any] | None:
    if reading.period_phrase is None:
        return None
    result: dict[str, Any] = run.call("resolve_period", text=reading.period_phrase)
    return result


def _anomalies(
    run: _Run,
    reading: Reading,
    period: dict[str, Any] | None,
    limit: int,
    kind: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Anomalies matching the reading's names, period and severity (and kind); the total."""
    if reading.intent in ("list_anomalies", "affected_channels", None):
        kind = kind or reading.kind
    common = {
        "start": period and period["start"],
        "end": period and period["end"],
        "kind": kind,
        "min_severity": reading.min_severity,
        "limit": limit,
    }
    if not reading.channels:
        result = run.call("list_anomalies", satellite=reading.satellite, **common)
        return result["anomalies"], result["total"]
    found: dict[int, dict[str, Any]] = {}
    total = 0
    for entry in reading.channels[:MAX_CHANNEL_CALLS]:
        result = run.call(
            "list_anomalies", satellite=entry.satellite, channel=entry.channel, **common
        )
        found.update({a["id"]: a for a in result["anomalies"]})
        total += result["total"]
    return list(found.values()), total


def _scope(reading: Reading) -> str:
    if reading.channels:
        names = [f"{e.satellite}/{e.channel}" for e in reading.channels[:MAX_CHANNEL_CALLS]]
        return ", ".join(names)
    return reading.satellite or "all satellites"


def _when_sentence(anomaly: dict[str, Any], subject: str, asks_end: bool) -> str:
    head = (
        f"{subject} ({anomaly['kind']}, {anomaly['severity']}) on "
        f"{anomaly['satellite']}/{anomaly['channel']}: it started at {anomaly['start']}"
    )
    if anomaly["ongoing"]:
        tail = "it has not ended yet" if asks_end else "it is still ongoing"
        return f"{head}; {tail} (last flagged at {anomaly['end']})."
    return f"{head} and ended at {anomaly['end']}."


def _unknown_note(reading: Reading) -> str:
    if reading.channels or reading.satellite or not reading.unknown_words:
        return ""
    words = ", ".join(f"'{w}'" for w in reading.unknown_words)
    return f"I did not recognise {words} as a satellite or channel, so all are covered. "


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


def _hint(intent: str | None) -> str:
    if intent in ("explain", "get_anomaly"):
        return "Ask 'which anomalies happened in the last week?' to see existing ids."
    return "Ask 'list channels' to see the satellites and channels I know."


def _cited(anomaly: dict[str, Any]) -> CitedAnomaly:
    return CitedAnomaly(**{k: anomaly[k] for k in CitedAnomaly.model_fields})


def _tool_summary(tool: str, result: Any) -> str:
    """A one-line account of a tool result for the trace."""
    if tool == "resolve_period":
        return f"{result['start']} to {result['end']} ({result['label']})"
    if tool == "list_anomalies":
        return f"{len(result['anomalies'])} of {result['total']} anomalies"
    if tool == "get_anomaly":
        return f"anomaly #{result['id']}: {result['kind']} on {result['channel']}"
    if tool == "list_channels":
        return f"{len(result['channels'])} channels"
    if tool == "channel_summary":
        return f"{result['points']} points, {result['anomaly_count']} anomalies"
    if tool == "detect":
        return f"{result['points']} points scanned, {len(result['anomalies'])} anomalies found"
    if tool == "explain":
        return f"{len(result['explanations'])} possible explanations"
    return "done"
