"""Answer text from tool results.

Every date in an answer is a string copied from a tool result: nothing here formats a
date. Numbers other than dates (counts, values, confidences) are formatted here.
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


def period_text(period: dict[str, Any] | None) -> str:
    """The searched period as stated in answers, from a resolve_period result."""
    if period is None:
        return "over all stored data (no period was given)"
    return f"between {period['start']} and {period['end']} ({period['label']})"


def when_text(anomaly: dict[str, Any]) -> str:
    """Start and end of an anomaly, or 'ongoing since', from a tool result."""
    if anomaly["ongoing"]:
        return f"ongoing since {anomaly['start']} (last flagged {anomaly['end']})"
    return f"{anomaly['start']} – {anomaly['end']}"


def anomaly_line(anomaly: dict[str, Any]) -> str:
    """One anomaly as a list item: id, satellite/channel, kind, severity, when."""
    return (
        f"- #{anomaly['id']} {anomaly['satellite']}/{anomaly['channel']}: {anomaly['kind']}, "
        f"{anomaly['severity']}, {when_text(anomaly)}"
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


def anomaly_list(anomalies: Sequence[dict[str, Any]], total: int, heading: str, empty: str) -> str:
    """A heading and the top anomalies by severity and recency, capped, with the rest counted."""
    if not anomalies:
        return empty
    shown = by_severity_then_recency(anomalies)[:MAX_LISTED]
    lines = [f"{heading}: {total} found." if total != 1 else f"{heading}: 1 found."]
    if total > len(shown):
        lines[0] += f" The {len(shown)} most severe (then most recent) are listed."
    lines += [anomaly_line(a) for a in shown]
    if total > len(shown):
        lines.append(f"… and {total - len(shown)} more; narrow the period or the channel.")
    return "\n".join(lines)


def explanation_block(result: dict[str, Any], intro: str = "") -> tuple[str, list[dict]]:
    """Text for one explain result, and the explanations it shows."""
    anomaly = result["anomaly"]
    shown = result["explanations"][:MAX_EXPLANATIONS]
    lines = [
        f"{intro}Anomaly #{anomaly['id']} on {anomaly['satellite']}/{anomaly['channel']} "
        f"({anomaly['kind']}, {anomaly['severity']}), {when_text(anomaly)}. "
        "Possible explanations, none of them certain:"
    ]
    for number, item in enumerate(shown, 1):
        evidence = "; ".join(item["evidence"]) or "none"
        lines.append(
            f"{number}. {item['cause']} (confidence {item['confidence']:.2f}). "
            f"Evidence: {evidence}."
        )
    if result["notes"]:
        lines.append("Looked for but not found: " + "; ".join(result["notes"]) + ".")
    return "\n".join(lines), shown


def number(value: Any) -> str:
    """A measured value for the text."""
    return "n/a" if value is None else f"{float(value):.4g}"
