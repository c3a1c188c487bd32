"""Answer text from tool results.

Every date in an answer is a string copied from a tool result: nothing here formats a
date. Numbers other than dates (counts, values, confidences) are formatted here.

Answers are worded in the question's language, English or French (:func:`pick`); what
the tools return (causes and evidence of explanations, period labels, kinds and
severities) is quoted as the tools wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from store.queries import SEVERITY_RANK

#: At most this many anomalies are listed in one answer.
MAX_LISTED = 20
#: At most this many channels are listed in one answer.
MAX_CHANNELS_LISTED = 50
#: At most this many explanations per anomaly are given in the text.
MAX_EXPLANATIONS = 4

CAPABILITIES = (
    "I can answer questions about the stored telemetry and its anomalies, for example: "
    "which anomalies happened on a satellite or channel in a period ('anomalies on SAT-1 "
    "last week', 'since 3 pm CET', 'between 2024-03-01 and 2024-03-03'); when the last "
    "anomaly on a channel started or ended; possible causes of an anomaly ('explain "
    "anomaly 12', 'why did the bus voltage jump?'); which channels were affected in a "
    "period; which channels exist ('list channels'); a channel's statistics ('summary of "
    "bus voltage yesterday'); running the detectors on stored data ('detect anomalies "
    "on bus voltage since yesterday'); how many anomalies there were ('how many anomalies "
    "last month?') and which channel had the most; whether a satellite is healthy now "
    "(ongoing anomalies, fresh data); anomalies during the last eclipse; and a plot of a "
    "channel or an anomaly ('show me a plot of it'). Questions may be in English or French "
    "('quelles anomalies hier sur SAT-1 ?')."
)
CAPABILITIES_FR = (
    "Je peux répondre aux questions sur la télémesure stockée et ses anomalies, par "
    "exemple : quelles anomalies sur un satellite ou un canal pendant une période "
    "('anomalies sur SAT-1 la semaine dernière', 'depuis 15 h CET', 'entre le 2024-03-01 "
    "et le 2024-03-03') ; quand la dernière anomalie d'un canal a commencé ou fini ; les "
    "causes possibles d'une anomalie ('pourquoi l'anomalie 12 ?', 'pourquoi la tension "
    "batterie a chuté ?') ; quels canaux ont été touchés ; quels canaux existent ('liste "
    "des canaux') ; les statistiques d'un canal ('résumé de la tension hier') ; lancer les "
    "détecteurs sur les données stockées ; combien d'anomalies il y a eu ('combien "
    "d'anomalies le mois dernier ?') et quel canal en a eu le plus ; si un satellite est "
    "en bonne santé ; les anomalies pendant la dernière éclipse ; et le graphique d'un "
    "canal ou d'une anomalie ('montre-moi un graphique'). Les questions peuvent être en "
    "français ou en anglais."
)
#: The start of an honest "cannot answer" reply, per language.
CANNOT = {
    "en": "I cannot answer that from the monitoring data.",
    "fr": "Je ne peux pas répondre à cela avec les données de surveillance.",
}


def pick(lang: str | None, en: str, fr: str) -> str:
    """The French wording for a French question, the English one otherwise."""
    return fr if lang == "fr" else en


def cannot_answer(lang: str | None) -> str:
    """The honest reply to a question outside what the planner answers."""
    if lang == "fr":
        return f"{CANNOT['fr']} {CAPABILITIES_FR}"
    return f"{CANNOT['en']} {CAPABILITIES}"


def period_text(period: dict[str, Any] | None, lang: str | None = None) -> str:
    """The searched period as stated in answers, from a resolve_period result."""
    if period is None:
        return pick(
            lang,
            "over all stored data (no period was given)",
            "sur toutes les données stockées (aucune période donnée)",
        )
    start, end, label = period["start"], period["end"], period["label"]
    return pick(lang, f"between {start} and {end} ({label})", f"entre {start} et {end} ({label})")


def when_text(anomaly: dict[str, Any], lang: str | None = None) -> str:
    """Start and end of an anomaly, or 'ongoing since', from a tool result."""
    start, end = anomaly["start"], anomaly["end"]
    if anomaly["ongoing"]:
        return pick(
            lang,
            f"ongoing since {start} (last flagged {end})",
            f"en cours depuis {start} (dernier point signalé {end})",
        )
    return f"{start} – {end}"


def anomaly_line(anomaly: dict[str, Any], lang: str | None = None) -> str:
    """One anomaly as a list item: id, satellite/channel, kind, severity, when."""
    return (
        f"- #{anomaly['id']} {anomaly['satellite']}/{anomaly['channel']}: {anomaly['kind']}, "
        f"{anomaly['severity']}, {when_text(anomaly, lang)}"
    )


def by_severity_then_recency(anomalies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first; among equals the most recent start first."""
    return sorted(
        anomalies,
        key=lambda a: (SEVERITY_RANK.get(a["severity"], -1), start_of(a)),
        reverse=True,
    )


def start_of(anomaly: dict[str, Any]) -> datetime:
    """The start of an anomaly result, parsed for comparisons (never for display)."""
    return datetime.fromisoformat(anomaly["start"])


def anomaly_list(
    anomalies: Sequence[dict[str, Any]],
    total: int,
    heading: str,
    empty: str,
    lang: str | None = None,
) -> str:
    """A heading and the top anomalies by severity and recency, capped, with the rest counted."""
    if not anomalies:
        return empty
    shown = by_severity_then_recency(anomalies)[:MAX_LISTED]
    found = pick(lang, "found", "trouvée" if total == 1 else "trouvées")
    lines = [f"{heading}{pick(lang, ':', ' :')} {total} {found}."]
    if total > len(shown):
        lines[0] += pick(
            lang,
            f" The {len(shown)} most severe (then most recent) are listed.",
            f" Les {len(shown)} plus graves (puis les plus récentes) sont listées.",
        )
    lines += [anomaly_line(a, lang) for a in shown]
    if total > len(shown):
        more = total - len(shown)
        lines.append(
            pick(
                lang,
                f"… and {more} more; narrow the period or the channel.",
                f"… et {more} de plus ; précisez la période ou le canal.",
            )
        )
    return "\n".join(lines)


def explanation_block(
    result: dict[str, Any], intro: str = "", lang: str | None = None
) -> tuple[str, list[dict]]:
    """Text for one explain result, and the explanations it shows."""
    anomaly = result["anomaly"]
    shown = result["explanations"][:MAX_EXPLANATIONS]
    what = (
        f"#{anomaly['id']} {pick(lang, 'on', 'sur')} {anomaly['satellite']}/"
        f"{anomaly['channel']} ({anomaly['kind']}, {anomaly['severity']}), "
        f"{when_text(anomaly, lang)}."
    )
    lines = [
        pick(
            lang,
            f"{intro}Anomaly {what} Possible explanations, none of them certain:",
            f"{intro}Anomalie {what} Explications possibles, aucune n'est certaine :",
        )
    ]
    for number, item in enumerate(shown, 1):
        evidence = "; ".join(item["evidence"]) or pick(lang, "none", "aucun")
        confidence = f"{item['confidence']:.2f}"
        lines.append(
            pick(
                lang,
                f"{number}. {item['cause']} (confidence {confidence}). Evidence: {evidence}.",
                f"{number}. {item['cause']} (confiance {confidence}). Indices : {evidence}.",
            )
        )
    if result["notes"]:
        notes = "; ".join(result["notes"])
        lines.append(
            pick(lang, f"Looked for but not found: {notes}.", f"Cherché sans trouver : {notes}.")
        )
    return "\n".join(lines), shown


def number(value: Any, lang: str | None = None) -> str:
    """A measured value for the text."""
    return pick(lang, "n/a", "n.d.") if value is None else f"{float(value):.4g}"
