"""Question handlers for counts, rankings, the state of a satellite and plots."""

from __future__ import annotations

from typing import Any

from agent import compose
from agent.handlers import MAX_CHANNEL_CALLS, period, scope, unknown_note
from agent.toolbox import Run
from agent.understanding import Reading

#: Words asking for the smallest counts first in a ranking.
ASCENDING_WORDS = frozenset({"least", "fewest", "moins"})
#: At most this many ranked channels or satellites are listed.
MAX_RANKED = 10


def count(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """How many anomalies match the names, period, kind and severity."""
    window = period(run, reading)
    total = 0
    for arguments in _targets(reading):
        result = run.call("list_anomalies", **arguments, **_filters(reading, window), limit=1)
        total += result["total"]
    what = _what(reading)
    word = what if total != 1 else what.replace("anomalies", "anomaly")
    return unknown_note(reading) + (
        f"{total} {word} on {scope(reading)} {compose.period_text(window)}."
    )


def ranking(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """Channels (or satellites) ranked by their number of matching anomalies."""
    window = period(run, reading)
    by_satellite = bool(set(reading.words) & {"satellite", "satellites", "sat"}) and not (
        set(reading.words) & {"channel", "channels", "canal", "canaux", "voie"}
    )
    listing = run.call("list_channels", satellite=reading.satellite)["channels"]
    wanted = {(e.satellite, e.channel) for e in reading.channels}
    counts: dict[str, int] = {}
    for item in listing:
        if wanted and (item["satellite"], item["name"]) not in wanted:
            continue
        result = run.call(
            "list_anomalies",
            satellite=item["satellite"],
            channel=item["name"],
            **_filters(reading, window),
            limit=1,
        )
        key = item["satellite"] if by_satellite else f"{item['satellite']}/{item['name']}"
        counts[key] = counts.get(key, 0) + result["total"]

    where = f"{_what(reading)} on {scope(reading)} {compose.period_text(window)}"
    if not counts or not any(counts.values()):
        return unknown_note(reading) + f"No {where}."
    ascending = bool(ASCENDING_WORDS & set(reading.words))
    ranked = sorted(counts.items(), key=lambda kv: (kv[1] if ascending else -kv[1], kv[0]))
    best = ranked[0][1]
    leaders = [name for name, n in ranked if n == best]
    unit = "satellite" if by_satellite else "channel"
    extreme = "fewest" if ascending else "most"
    lines = [
        f"{' and '.join(leaders)} had the {extreme} {where}: {best}.",
        f"Per {unit}:",
    ]
    lines += [f"{i}. {name}: {n}" for i, (name, n) in enumerate(ranked[:MAX_RANKED], 1)]
    return unknown_note(reading) + "\n".join(lines)


def satellite_state(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """Ongoing anomalies, the latest data time of each channel and whether it is fresh."""
    result = run.call("satellite_state", satellite=reading.satellite)
    subject = result["satellite"] or "All satellites"
    ongoing = result["ongoing"]
    stale = [c for c in result["channels"] if c["last"] is not None and not c["fresh"]]
    empty = [c for c in result["channels"] if c["last"] is None]

    if not result["channels"]:
        return f"{subject}: no channels are stored, so I cannot tell its state."
    verdict = "looks healthy" if result["healthy"] else "needs attention"
    reasons = []
    if ongoing:
        reasons.append(f"{len(ongoing)} ongoing anomal{'y' if len(ongoing) == 1 else 'ies'}")
    if stale:
        reasons.append(f"{len(stale)} channel(s) with stale data")
    because = f" ({', '.join(reasons)})" if reasons else ""
    lines = [f"{subject} {verdict}{because} as of {result['now']}."]
    if ongoing:
        lines.append("Ongoing anomalies:")
        lines += [compose.anomaly_line(a) for a in ongoing[: compose.MAX_LISTED]]
    else:
        lines.append("No anomaly is ongoing.")
    lines.append("Latest data per channel:")
    for item in result["channels"][: compose.MAX_CHANNELS_LISTED]:
        if item["last"] is None:
            continue
        freshness = "fresh" if item["fresh"] else "stale"
        lines.append(f"- {item['satellite']}/{item['channel']}: {item['last']} ({freshness})")
    if empty:
        lines.append(f"{len(empty)} channel(s) have no data yet.")
    return "\n".join(lines)


def plot(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """A plot link of a channel over the period, or around the anomaly in question."""
    ids = list(reading.anomaly_ids)
    if not ids and not reading.channels and state.get("anomaly_ids"):
        ids = [int(state["anomaly_ids"][0])]
    if ids:
        result = run.call("plot", anomaly_id=ids[0])
        anomaly = result["anomaly"]
        head = (
            f"Plot of {result['satellite']}/{result['channel']} around anomaly #{anomaly['id']} "
            f"({anomaly['kind']}, {anomaly['severity']}, {compose.when_text(anomaly)})"
        )
    elif reading.channels:
        entry = reading.channels[0]
        window = period(run, reading)
        result = run.call(
            "plot",
            channel=entry.channel,
            satellite=entry.satellite,
            start=window and window["start"],
            end=window and window["end"],
        )
        head = f"Plot of {result['satellite']}/{result['channel']}"
    else:
        return "Which channel or anomaly should I plot? Name a channel or an anomaly id."
    run.plot_url = result["url"]
    return f"{head}, from {result['start']} to {result['end']}: {result['url']}"


def _targets(reading: Reading) -> list[dict[str, Any]]:
    if reading.channels:
        return [
            {"satellite": e.satellite, "channel": e.channel}
            for e in reading.channels[:MAX_CHANNEL_CALLS]
        ]
    return [{"satellite": reading.satellite}]


def _filters(reading: Reading, window: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "start": window and window["start"],
        "end": window and window["end"],
        "kind": reading.kind,
        "min_severity": reading.min_severity,
    }


def _what(reading: Reading) -> str:
    kind = reading.kind.replace("_", " ") + " " if reading.kind else ""
    severity = f" of severity {reading.min_severity} or more" if reading.min_severity else ""
    return f"{kind}anomalies{severity}"
