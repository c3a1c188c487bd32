"""Question handlers for counts, rankings, the state of a satellite and plots."""

from __future__ import annotations

from typing import Any

from agent import compose
from agent.compose import period_text, pick
from agent.handlers_common import MAX_CHANNEL_CALLS, period, scope, unknown_note
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
    lang = reading.lang
    what = _what(reading)
    word = what if total != 1 else what.replace("anomalies", pick(lang, "anomaly", "anomalie"))
    where = f"{scope(reading)} {period_text(window, lang)}"
    return unknown_note(reading) + pick(
        lang, f"{total} {word} on {where}.", f"{total} {word} sur {where}."
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

    lang = reading.lang
    where = (
        f"{_what(reading)} {pick(lang, 'on', 'sur')} {scope(reading)} {period_text(window, lang)}"
    )
    if not counts or not any(counts.values()):
        return unknown_note(reading) + pick(
            lang, f"No {where}.", "Aucune " + where.replace("anomalies", "anomalie", 1) + "."
        )
    ascending = bool(ASCENDING_WORDS & set(reading.words))
    ranked = sorted(counts.items(), key=lambda kv: (kv[1] if ascending else -kv[1], kv[0]))
    best = ranked[0][1]
    leaders = pick(lang, " and ", " et ").join(n for n, c in ranked if c == best)
    if lang == "fr":
        extreme = "le moins" if ascending else "le plus"
        unit = "satellite" if by_satellite else "canal"
        lines = [f"{leaders} a eu {extreme} d'{where} : {best}.", f"Par {unit} :"]
    else:
        extreme = "fewest" if ascending else "most"
        unit = "satellite" if by_satellite else "channel"
        lines = [f"{leaders} had the {extreme} {where}: {best}.", f"Per {unit}:"]
    lines += [f"{i}. {name}: {n}" for i, (name, n) in enumerate(ranked[:MAX_RANKED], 1)]
    return unknown_note(reading) + "\n".join(lines)


def satellite_state(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """Ongoing anomalies, the latest data time of each channel and whether it is fresh."""
    lang = reading.lang
    result = run.call("satellite_state", satellite=reading.satellite)
    subject = result["satellite"] or pick(lang, "All satellites", "Tous les satellites")
    ongoing = result["ongoing"]
    stale = [c for c in result["channels"] if c["last"] is not None and not c["fresh"]]
    empty = [c for c in result["channels"] if c["last"] is None]

    if not result["channels"]:
        return pick(
            lang,
            f"{subject}: no channels are stored, so I cannot tell its state.",
            f"{subject} : aucun canal n'est stocké, je ne peux pas dire son état.",
        )
    if result["healthy"]:
        verdict = pick(lang, "looks healthy", "semble en bonne santé")
    else:
        verdict = pick(lang, "needs attention", "demande de l'attention")
    reasons = []
    if ongoing:
        n = len(ongoing)
        reasons.append(
            pick(
                lang,
                f"{n} ongoing anomal{'y' if n == 1 else 'ies'}",
                f"{n} anomalie{'' if n == 1 else 's'} en cours",
            )
        )
    if stale:
        reasons.append(
            pick(
                lang,
                f"{len(stale)} channel(s) with stale data",
                f"{len(stale)} canal(aux) aux données anciennes",
            )
        )
    because = f" ({', '.join(reasons)})" if reasons else ""
    now = result["now"]
    lines = [
        pick(
            lang,
            f"{subject} {verdict}{because} as of {now}.",
            f"{subject} {verdict}{because} à {now}.",
        )
    ]
    if ongoing:
        lines.append(pick(lang, "Ongoing anomalies:", "Anomalies en cours :"))
        lines += [compose.anomaly_line(a, lang) for a in ongoing[: compose.MAX_LISTED]]
    else:
        lines.append(pick(lang, "No anomaly is ongoing.", "Aucune anomalie n'est en cours."))
    lines.append(pick(lang, "Latest data per channel:", "Dernières données par canal :"))
    for item in result["channels"][: compose.MAX_CHANNELS_LISTED]:
        if item["last"] is None:
            continue
        if item["fresh"]:
            freshness = pick(lang, "fresh", "récentes")
        else:
            freshness = pick(lang, "stale", "anciennes")
        lines.append(f"- {item['satellite']}/{item['channel']}: {item['last']} ({freshness})")
    if empty:
        lines.append(
            pick(
                lang,
                f"{len(empty)} channel(s) have no data yet.",
                f"{len(empty)} canal(aux) n'ont encore aucune donnée.",
            )
        )
    return "\n".join(lines)


def plot(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """A plot link of a channel over the period, or around the anomaly in question."""
    lang = reading.lang
    ids = list(reading.anomaly_ids)
    if not ids and not reading.channels and state.get("anomaly_ids"):
        ids = [int(state["anomaly_ids"][0])]
    if ids:
        result = run.call("plot", anomaly_id=ids[0])
        anomaly = result["anomaly"]
        name = f"{result['satellite']}/{result['channel']}"
        what = f"#{anomaly['id']} ({anomaly['kind']}, {anomaly['severity']}, "
        what += f"{compose.when_text(anomaly, lang)})"
        head = pick(
            lang,
            f"Plot of {name} around anomaly {what}",
            f"Graphique de {name} autour de l'anomalie {what}",
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
        head = (
            pick(lang, "Plot of", "Graphique de") + f" {result['satellite']}/{result['channel']}"
        )
    else:
        return pick(
            lang,
            "Which channel or anomaly should I plot? Name a channel or an anomaly id.",
            "De quel canal ou de quelle anomalie faut-il un graphique ? Nommez un canal ou "
            "donnez le numéro d'une anomalie.",
        )
    run.plot_url = result["url"]
    start, end, url = result["start"], result["end"], result["url"]
    return pick(
        lang, f"{head}, from {start} to {end}: {url}", f"{head}, de {start} à {end} : {url}"
    )


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
    kind = reading.kind.replace("_", " ") if reading.kind else ""
    severity = reading.min_severity
    if reading.lang == "fr":
        return (
            "anomalies"
            + (f" de type {kind}" if kind else "")
            + (f" de sévérité {severity} ou plus" if severity else "")
        )
    return (
        (f"{kind} " if kind else "")
        + "anomalies"
        + (f" of severity {severity} or more" if severity else "")
    )
