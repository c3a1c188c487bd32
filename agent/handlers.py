"""Question handlers of the offline planner for listing, timing and explaining anomalies.

Each handler takes the tool run, the reading of the question and the conversation
state, calls tools through the run and returns the answer text, worded by
:mod:`agent.compose` from the tool results.
"""

from __future__ import annotations

from typing import Any

from agent import compose
from agent.compose import period_text, pick
from agent.handlers_common import (
    MAX_CHANNEL_CALLS,
    anomalies,
    period,
    scope,
    unknown_note,
    when_sentence,
)
from agent.schema import Explanation
from agent.toolbox import Run
from agent.understanding import Reading

#: Anomalies fetched per list_anomalies call before ranking and capping the answer.
FETCH_LIMIT = 200
#: Anomalies explained for one question.
MAX_EXPLAINED = 3


def list_anomalies(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    window = period(run, reading)
    found, total = anomalies(run, reading, window, FETCH_LIMIT)
    kind = reading.kind.replace("_", " ") if reading.kind else ""
    severity = reading.min_severity
    english = (f"{kind} anomalies" if kind else "anomalies") + (
        f" of severity {severity} or more" if severity else ""
    )
    french = (f" de type {kind}" if kind else "") + (
        f" de sévérité {severity} ou plus" if severity else ""
    )
    where = f"{scope(reading)} {period_text(window, lang)}"
    heading = pick(lang, f"{english} on {where}", f"anomalies{french} sur {where}")
    heading = heading[0].upper() + heading[1:]
    empty = pick(lang, f"No {english} on {where}.", f"Aucune anomalie{french} sur {where}.")
    text = compose.anomaly_list(found, total, heading, empty, lang)
    return unknown_note(reading) + text


def last_time(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    ids = state.get("anomaly_ids") or []
    if reading.pronoun and not (reading.channels or reading.satellite) and ids:
        anomaly = run.call("get_anomaly", anomaly_id=int(ids[0]))
        subject = pick(lang, "Anomaly", "L'anomalie") + f" #{anomaly['id']}"
        return when_sentence(anomaly, subject, reading.asks_end, lang)
    window = period(run, reading)
    found, _ = anomalies(run, reading, window, 1)
    where = f"{scope(reading)} {period_text(window, lang)}"
    if not found:
        return unknown_note(reading) + pick(
            lang, f"No anomaly on {where}.", f"Aucune anomalie sur {where}."
        )
    last = max(found, key=compose.start_of)
    subject = pick(
        lang,
        f"The last anomaly on {where} is #{last['id']}",
        f"La dernière anomalie sur {where} est #{last['id']}",
    )
    return unknown_note(reading) + when_sentence(last, subject, reading.asks_end, lang)


def explain(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    intro = ""
    ids = list(reading.anomaly_ids)
    if not ids and (reading.channels or reading.satellite):
        window = period(run, reading)
        found, _ = anomalies(run, reading, window, 1, reading.kind)  # "jump": a level shift
        if not found and reading.kind:
            found, _ = anomalies(run, reading, window, 1)
        where = f"{scope(reading)} {period_text(window, lang)}"
        if not found:
            return pick(
                lang,
                f"No anomaly on {where} to explain.",
                f"Aucune anomalie à expliquer sur {where}.",
            )
        ids = [int(max(found, key=compose.start_of)["id"])]
        intro = pick(
            lang, f"The last anomaly on {where}: ", f"La dernière anomalie sur {where} : "
        )
    if not ids and state.get("anomaly_ids"):
        ids = [int(state["anomaly_ids"][0])]
        if len(state["anomaly_ids"]) > 1:
            intro = pick(
                lang,
                "Explaining the first anomaly of the previous answer. ",
                "J'explique la première anomalie de la réponse précédente. ",
            )
    if not ids:
        return pick(
            lang,
            "Which anomaly should I explain? Give its id ('explain anomaly 12') or a "
            "channel ('why did the bus voltage jump?').",
            "Quelle anomalie dois-je expliquer ? Donnez son numéro ('pourquoi l'anomalie "
            "12 ?') ou un canal ('pourquoi la tension batterie a chuté ?').",
        )

    blocks = []
    for anomaly_id in ids[:MAX_EXPLAINED]:
        result = run.call("explain", anomaly_id=anomaly_id)
        block, shown = compose.explanation_block(result, intro, lang)
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
    lang = reading.lang
    window = period(run, reading)
    found, total = anomalies(run, reading, window, 1000)
    where = f"{scope(reading)} {period_text(window, lang)}"
    if not found:
        return unknown_note(reading) + pick(
            lang,
            f"No channel had anomalies on {where}.",
            f"Aucun canal n'a eu d'anomalie sur {where}.",
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    for anomaly in compose.by_severity_then_recency(found):
        groups.setdefault(f"{anomaly['satellite']}/{anomaly['channel']}", []).append(anomaly)
    lines = [
        pick(
            lang,
            f"{len(groups)} channel(s) had anomalies on {where}:",
            f"{len(groups)} canal(aux) ont eu des anomalies sur {where} :",
        )
    ]
    for name, items in list(groups.items())[: compose.MAX_CHANNELS_LISTED]:
        ids = ", ".join(f"#{a['id']}" for a in items[:5])
        n, worst = len(items), items[0]["severity"]
        more = pick(lang, f" and {n - 5} more", f" et {n - 5} de plus") if n > 5 else ""
        lines.append(
            pick(
                lang,
                f"- {name}: {n} anomal{'y' if n == 1 else 'ies'} (worst {worst}; {ids}{more})",
                f"- {name} : {n} anomalie{'' if n == 1 else 's'} (pire {worst} ; {ids}{more})",
            )
        )
    if total > len(found):
        lines.append(
            pick(
                lang,
                f"Only the newest {len(found)} of {total} anomalies were grouped.",
                f"Seules les {len(found)} plus récentes des {total} anomalies sont regroupées.",
            )
        )
    return unknown_note(reading) + "\n".join(lines)


def list_channels(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    result = run.call("list_channels", satellite=reading.satellite)
    channels = result["channels"]
    scope = reading.satellite or pick(lang, "all satellites", "tous les satellites")
    if not channels:
        return pick(
            lang, f"No channels are stored for {scope}.", f"Aucun canal n'est stocké pour {scope}."
        )
    lines = [
        pick(
            lang,
            f"{len(channels)} channel(s) on {scope}:",
            f"{len(channels)} canal(aux) sur {scope} :",
        )
    ]
    for item in channels[: compose.MAX_CHANNELS_LISTED]:
        unit = f" [{item['unit']}]" if item["unit"] else ""
        about = f": {item['description']}" if item["description"] else ""
        lines.append(
            f"- {item['satellite']}/{item['name']}{unit}{about} ({item['points']} points)"
        )
    if len(channels) > compose.MAX_CHANNELS_LISTED:
        more = len(channels) - compose.MAX_CHANNELS_LISTED
        lines.append(pick(lang, f"… and {more} more.", f"… et {more} de plus."))
    return "\n".join(lines)


def summary(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    if not reading.channels:
        return pick(
            lang,
            "Which channel should I summarise? Ask 'list channels' to see their names.",
            "Quel canal dois-je résumer ? Demandez 'liste des canaux' pour voir leurs noms.",
        )
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
        name = f"{result['satellite']}/{result['channel']} {period_text(window, lang)}"
        text = name + pick(lang, ": ", " : ")
        if result["points"] == 0:
            text += pick(lang, "no stored points", "aucun point stocké")
        else:
            points, first, last = result["points"], result["first"], result["last"]
            low, high = compose.number(result["min"], lang), compose.number(result["max"], lang)
            mean = compose.number(result["mean"], lang)
            text += pick(
                lang,
                f"{points} points from {first} to {last}; min {low}, max {high}, mean {mean}",
                f"{points} points de {first} à {last} ; min {low}, max {high}, moyenne {mean}",
            )
            text += unit
        ids = ", ".join(f"#{a['id']}" for a in result["anomalies"][:10])
        count = result["anomaly_count"]
        text += pick(
            lang,
            f"; {count} anomal{'y' if count == 1 else 'ies'}",
            f" ; {count} anomalie{'' if count == 1 else 's'}",
        ) + (f" ({ids})" if ids else "")
        blocks.append(text + ".")
    return "\n".join(blocks)


def detect(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    if not reading.channels:
        return pick(
            lang,
            "On which channel should I run the detectors? Ask 'list channels' for names.",
            "Sur quel canal dois-je lancer les détecteurs ? Demandez 'liste des canaux'.",
        )
    entry = reading.channels[0]
    window = period(run, reading)
    result = run.call(
        "detect",
        channel=entry.channel,
        satellite=entry.satellite,
        start=window and window["start"],
        end=window and window["end"],
    )
    where = f"{result['satellite']}/{result['channel']} {period_text(window, lang)}"
    if result["points"] == 0:
        return pick(
            lang,
            f"There are no stored points on {where}, so nothing was scanned.",
            f"Il n'y a aucun point stocké sur {where} : rien n'a été analysé.",
        )
    points, first, last, n = (
        result["points"],
        result["first"],
        result["last"],
        len(result["anomalies"]),
    )
    lines = [
        pick(
            lang,
            f"Ran the detectors on {where}: {points} points from {first} to {last}; "
            f"{n} anomalies found (not stored).",
            f"Détecteurs lancés sur {where} : {points} points de {first} à {last} ; "
            f"{n} anomalies trouvées (non stockées).",
        )
    ]
    if result["truncated"]:
        lines.append(
            pick(
                lang,
                "Only the newest points of the range were scanned; narrow the window.",
                "Seuls les points les plus récents ont été analysés ; réduisez la fenêtre.",
            )
        )
    for item in result["anomalies"][: compose.MAX_LISTED]:
        lines.append(f"- {item['kind']}, {item['severity']}, {compose.when_text(item, lang)}")
    return "\n".join(lines)


def get_anomaly(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    lang = reading.lang
    lines = []
    for anomaly_id in reading.anomaly_ids[:MAX_EXPLAINED]:
        item = run.call("get_anomaly", anomaly_id=anomaly_id)
        name = f"#{item['id']} {pick(lang, 'on', 'sur')} {item['satellite']}/{item['channel']}"
        kind, severity, status = item["kind"], item["severity"], item["status"]
        when = compose.when_text(item, lang)
        lines.append(
            pick(
                lang,
                f"Anomaly {name}: {kind}, {severity} severity, status {status}, {when}.",
                f"Anomalie {name} : {kind}, sévérité {severity}, statut {status}, {when}.",
            )
        )
    return "\n".join(lines) + pick(
        lang,
        "\nAsk 'why?' for possible explanations.",
        "\nDemandez 'pourquoi ?' pour les explications possibles.",
    )


def cannot_answer(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    return compose.cannot_answer(reading.lang)
