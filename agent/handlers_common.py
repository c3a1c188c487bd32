"""What the planner's question handlers share: the period asked about, the anomalies
matching a reading, and the wording of scopes, times and unrecognised names."""

from __future__ import annotations

from typing import Any

from agent.compose import pick
from agent.errors import AgentError
from agent.toolbox import Run
from agent.understanding import Reading

#: Channels queried one by one for a question naming several (ties of the name match).
MAX_CHANNEL_CALLS = 5
#: French names of the periods bounded by events (see :func:`event_period`).
EVENT_KINDS_FR = {"eclipse": "éclipse"}


def period(run: Run, reading: Reading) -> dict[str, Any] | None:
    """The period the question asks about, from a tool result, or None for all data."""
    if reading.event_kind is not None:
        window = event_period(run, reading.event_kind, reading.satellite, reading.lang)
        if reading.satellite is None and not reading.channels:
            reading.satellite = window["satellite"]  # an eclipse is one satellite's
        return window
    if reading.period_phrase is None:
        return None
    result: dict[str, Any] = run.call("resolve_period", text=reading.period_phrase)
    return result


def event_period(
    run: Run, kind: str, satellite: str | None, lang: str | None = None
) -> dict[str, Any]:
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
        raise AgentError(
            pick(
                lang,
                f"no complete {kind} is recorded{f' for {satellite}' if satellite else ''}, "
                "so I cannot tell when it was",
                f"aucune {EVENT_KINDS_FR.get(kind, kind)} complète n'est enregistrée"
                f"{f' pour {satellite}' if satellite else ''} : je ne peux pas dire quand",
            )
        )
    return {
        "start": entries[0]["ts"],
        "end": exits[0]["ts"],
        "label": pick(
            lang,
            f"the last {kind} of {exits[0]['satellite']}",
            f"la dernière {EVENT_KINDS_FR.get(kind, kind)} de {exits[0]['satellite']}",
        ),
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
    return reading.satellite or pick(reading.lang, "all satellites", "tous les satellites")


def when_sentence(
    anomaly: dict[str, Any], subject: str, asks_end: bool, lang: str | None = None
) -> str:
    what = f"({anomaly['kind']}, {anomaly['severity']})"
    where = f"{anomaly['satellite']}/{anomaly['channel']}"
    start, end = anomaly["start"], anomaly["end"]
    if lang != "fr":
        head = f"{subject} {what} on {where}: it started at {start}"
        if anomaly["ongoing"]:
            tail = "it has not ended yet" if asks_end else "it is still ongoing"
            return f"{head}; {tail} (last flagged at {end})."
        return f"{head} and ended at {end}."
    head = f"{subject} {what} sur {where} : elle a commencé à {start}"
    if anomaly["ongoing"]:
        tail = "elle n'est pas encore finie" if asks_end else "elle est toujours en cours"
        return f"{head} ; {tail} (dernier point signalé à {end})."
    return f"{head} et s'est terminée à {end}."


def unknown_note(reading: Reading) -> str:
    if reading.channels or reading.satellite or not reading.unknown_words:
        return ""
    words = ", ".join(f"'{w}'" for w in reading.unknown_words)
    return pick(
        reading.lang,
        f"I did not recognise {words} as a satellite or channel, so all are covered. ",
        f"Je n'ai pas reconnu {words} comme satellite ou canal : tous sont couverts. ",
    )
