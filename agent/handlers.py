"""Question handlers of the offline planner for listing, timing and explaining anomalies.

Each handler takes the tool run, the reading of the question and the conversation
state, calls tools through the run and returns the answer text, worded by
:mod:`agent.compose` from the tool results.
"""

from __future__ import annotations

from typing import Any

from agent import compose
from agent.errors import AgentError
from agent.schema import Explanation
from agent.toolbox import Run
from agent.understanding import Reading

#: Anomalies fetched per list_anomalies call before ranking and capping the answer.
FETCH_LIMIT = 200
#: Channels queried one by one for a question naming several (ties of the name match).
MAX_CHANNEL_CALLS = 5
#: Anomalies explained for one question.
MAX_EXPLAINED = 3


def list_anomalies(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    window = period(run, reading)
    found, total = anomalies(run, reading, window, FETCH_LIMIT)
    kind = reading.kind.replace("_", " ").capitalize() if reading.kind else ""
    what = f"{kind} anomalies" if kind else "Anomalies"
    if reading.min_severity:
        what += f" of severity {reading.min_severity} or more"
    where = f"{what} on {scope(reading)} {compose.period_text(window)}"
    text = compose.anomaly_list(found, total, where, f"No {where[0].lower()}{where[1:]}.")
    return unknown_note(reading) + text


def last_time(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    ids = state.get("anomaly_ids") or []
    if reading.pronoun and not (reading.channels or reading.satellite) and ids:
        anomaly = run.call("get_anomaly", anomaly_id=int(ids[0]))
        return when_sentence(anomaly, f"Anomaly #{anomaly['id']}", reading.asks_end)
    window = period(run, reading)
    found, _ = anomalies(run, reading, window, 1)
    if not found:
        return unknown_note(reading) + (
            f"No anomaly on {scope(reading)} {compose.period_text(window)}."
        )
    last = max(found, key=compose.start_of)
    subject = (
        f"The last anomaly on {scope(reading)} {compose.period_text(window)} is #{last['id']}"
    )
    return unknown_note(reading) + when_sentence(last, subject, reading.asks_end)


def explain(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    intro = ""
    ids = list(reading.anomaly_ids)
    if not ids and (reading.channels or reading.satellite):
        window = period(run, reading)
        found, _ = anomalies(run, reading, window, 1, reading.kind)  # "jump": a level shift
        if not found and reading.kind:
            found, _ = anomalies(run, reading, window, 1)
        if not found:
            return f"No anomaly on {scope(reading)} {compose.period_text(window)} to explain."
        ids = [int(max(found, key=compose.start_of)["id"])]
        intro = f"The last anomaly on {scope(reading)} {compose.period_text(window)}: "
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


def affected_channels(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    window = period(run, reading)
    found, total = anomalies(run, reading, window, 1000)
    where = f"{scope(reading)} {compose.period_text(window)}"
    if not found:
        return unknown_note(reading) + f"No channel had anomalies on {where}."
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
    return unknown_note(reading) + "\n".join(lines)


def list_channels(run: Run, reading: Reading, state: dict[str, Any]) -> str:
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


def summary(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    if not reading.channels:
        return "Which channel should I summarise? Ask 'list channels' to see their names."
    window = period(run, reading)
    blocks = []
    for entry in reading.channels[:MAX_CHANNEL_CALLS]:
        result = run.call(
            "channel_summary",
            channel=entry.channel,
            satellite=entry.satellite,
            start=window and window["start"],
            end=window and window["end"],
        )
        unit = f" {result['unit']}" if result["unit"] else ""
        text = f"{result['satellite']}/{result['channel']} {compose.period_text(window)}: "
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


def detect(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    if not reading.channels:
        return "On which channel should I run the detectors? Ask 'list channels' for names."
    entry = reading.channels[0]
    window = period(run, reading)
    result = run.call(
        "detect",
        channel=entry.channel,
        satellite=entry.satellite,
        start=window and window["start"],
        end=window and window["end"],
    )
    where = f"{result['satellite']}/{result['channel']} {compose.period_text(window)}"
    if result["points"] == 0:
        return f"There are no stored points on {where}, so nothing was scanned."
    lines = [
        f"Ran the detectors on {where}: {result['points']} points from {result['first']} to "
        f"{result['last']}; {len(result['anomalies'])} anomalies found (not stored)."
    ]
    if result["truncated"]:
        lines.append("Only the newest points of the range were scanned; narrow the window.")
    for item in result["anomalies"][: compose.MAX_LISTED]:
        lines.append(f"- {item['kind']}, {item['severity']}, {compose.when_text(item)}")
    return "\n".join(lines)


def get_anomaly(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lines = []
    for anomaly_id in reading.anomaly_ids[:MAX_EXPLAINED]:
        item = run.call("get_anomaly", anomaly_id=anomaly_id)
        lines.append(
            f"Anomaly #{item['id']} on {item['satellite']}/{item['channel']}: {item['kind']}, "
            f"{item['severity']} severity, status {item['status']}, {compose.when_text(item)}."
        )
    return "\n".join(lines) + "\nAsk 'why?' for possible explanations."


def cannot_answer(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    return "I cannot answer that from the monitoring data. " + compose.CAPABILITIES


# --- helpers -----------------------------------------------------------------------------


def period(run: Run, reading: Reading) -> dict[str, Any] | None:
    """The period the question asks about, from a tool result, or None for all data."""
    if reading.event_kind is not None:
        window = event_period(run, reading.event_kind, reading.satellite)
        if reading.satellite is None and not reading.channels:
            reading.satellite = window["satellite"]  # an eclipse is one satellite's
        return window
    if reading.period_phrase is None:
        return None
    result: dict[str, Any] = run.call("resolve_period", text=reading.period_phrase)
    return result


def event_period(run: Run, kind: str, satellite: str | None) -> dict[str, Any]:
    """The last complete ``kind`` (e.g. eclipse), from its stored exit and entry events."""
    exits = run.call(
        "find_events", satellite=satellite, kind=f"{kind}_exit", limit=1, newest_first=True
    )["events"]
    entries = []
    if exits:
        entries = run.call(
            "find_events",
            satellite=exits[0]["satellite"],
            kind=f"{kind}_entry",
            end=exits[0]["ts"],
            limit=1,
            newest_first=True,
        )["events"]
    if not entries:
        where = f" for {satellite}" if satellite else ""
        raise AgentError(f"no complete {kind} is recorded{where}, so I cannot tell when it was")
    return {
        "start": entries[0]["ts"],
        "end": exits[0]["ts"],
        "label": f"the last {kind} of {exits[0]['satellite']}",
        "satellite": exits[0]["satellite"],
    }


def anomalies(
    run: Run,
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


def scope(reading: Reading) -> str:
    if reading.channels:
        names = [f"{e.satellite}/{e.channel}" for e in reading.channels[:MAX_CHANNEL_CALLS]]
        return ", ".join(names)
    return reading.satellite or "all satellites"


def when_sentence(anomaly: dict[str, Any], subject: str, asks_end: bool) -> str:
    head = (
        f"{subject} ({anomaly['kind']}, {anomaly['severity']}) on "
        f"{anomaly['satellite']}/{anomaly['channel']}: it started at {anomaly['start']}"
    )
    if anomaly["ongoing"]:
        tail = "it has not ended yet" if asks_end else "it is still ongoing"
        return f"{head}; {tail} (last flagged at {anomaly['end']})."
    return f"{head} and ended at {anomaly['end']}."


def unknown_note(reading: Reading) -> str:
    if reading.channels or reading.satellite or not reading.unknown_words:
        return ""
    words = ", ".join(f"'{w}'" for w in reading.unknown_words)
    return f"I did not recognise {words} as a satellite or channel, so all are covered. "
