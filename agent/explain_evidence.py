"""Evidence for explanations beyond the anomaly itself: context events and recurrence.

Operator annotations and knowledge passages are in ``agent.explain_feedback``.

Each ``*_causes`` function turns gathered evidence into possible causes with a
confidence in 0..1 (heuristics documented by the constants below). Every date in an
evidence string is copied from a stored record with ``store.vector.iso_z``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlmodel import Session

from agent._common import anomaly_dict
from agent.catalog import CatalogEntry
from agent.context import ToolContext
from store import queries
from store.vector import iso_z

# --- context events -----------------------------------------------------------------------
#: Events up to this many anomaly durations before the start are candidates...
EVENT_LOOKBACK_DURATIONS = 3.0
#: ...but at least this long before it and at most this long.
EVENT_LOOKBACK_MIN = timedelta(minutes=15)
EVENT_LOOKBACK_MAX = timedelta(hours=6)
#: Events after the start count up to a quarter of the duration, within these bounds.
EVENT_AFTER_MIN = timedelta(minutes=1)
EVENT_AFTER_MAX = timedelta(minutes=30)
#: Proximity decays as exp(-gap / tau), tau = max(this, half the duration), seconds.
EVENT_TAU_MIN_S = 300.0
#: Detected starts can be a few samples early: events up to this many seconds (or a tenth
#: of the duration) after the start count as at the start...
EVENT_AT_START_S = 60.0
#: ...later ones are weaker candidate causes (their proximity is scaled by this).
EVENT_AFTER_FACTOR = 0.5
#: Confidence = base + proximity weight * proximity
#:     + relevance weight * relevance * (RELEVANCE_FLOOR + (1 - RELEVANCE_FLOOR) * proximity):
#: words shared with the channel count most for close events.
EVENT_BASE, EVENT_PROXIMITY_WEIGHT, EVENT_RELEVANCE_WEIGHT = 0.15, 0.45, 0.3
RELEVANCE_FLOOR = 0.25
#: Relevance of an event whose words appear in the channel's name or description...
RELEVANCE_SHARED_WORD = 0.6
#: ...and added when a knowledge passage mentions the event and the channel together.
RELEVANCE_KNOWLEDGE = 0.4
#: At most this many events become causes.
EVENT_CAUSES = 3
#: An event this close, while other channels also had anomalies, is the candidate common
#: cause: it ranks this much above the unspecific "common cause" reading.
SHARED_TRIGGER_PROXIMITY = 0.5
SHARED_TRIGGER_MARGIN = 0.05

# --- recurrence ---------------------------------------------------------------------------
#: Points before the anomaly used to estimate the channel's dominant period.
PERIOD_POINTS = 5_000
#: Earlier anomalies up to this many periods back are compared by phase.
RECUR_PERIODS_BACK = 30
#: Two starts are "at a similar phase" within this fraction of the period.
PHASE_TOLERANCE = 0.05
#: Time of day: starts within this many minutes (on a 24 h cycle) match.
TIME_OF_DAY_TOLERANCE_MIN = 30.0
#: At least this many earlier matches make a recurrence.
RECUR_MIN = 2
DAY_S = 86_400.0

# --- knowledge ----------------------------------------------------------------------------
#: Knowledge passages count when their cosine distance is at most this.
KNOWLEDGE_MAX_DISTANCE = 0.65
KNOWLEDGE_LIMIT = 3
#: Longest operator or document quote in an evidence string, characters.
QUOTE_CHARS = 300

_STOPWORDS = frozenset(
    "the and for with from into onto this that then than while when are was were has have "
    "its per not off out via tc start stop".split()
)


@dataclass(frozen=True)
class Cause:
    """A possible cause, the evidence for it and a confidence (clipped to 0..1)."""

    cause: str
    evidence: list[str]
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "evidence": self.evidence,
            "confidence": round(min(max(self.confidence, 0.0), 1.0), 2),
        }


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """Operator or document text as a quoted, single-line string: data, never instructions."""
    clean = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(clean) > limit:
        clean = clean[: limit - 1].rstrip() + "…"
    return "'" + clean.replace("\\", "\\\\").replace("'", "\\'") + "'"


def words(text: str) -> set[str]:
    """Lower-case content words of `text` (underscores split words, plural 's' dropped)."""
    found = set()
    for word in re.split(r"[^0-9a-zA-Z]+", text.lower()):
        if len(word) < 3 or word.isdigit() or word in _STOPWORDS:
            continue
        found.add(word[:-1] if word.endswith("s") and len(word) > 4 else word)
    return found


# --- context events -----------------------------------------------------------------------


def event_candidates(
    ctx: ToolContext,
    session: Session,
    view: queries.AnomalyView,
    entry: CatalogEntry,
) -> list[dict[str, Any]]:
    """Events of the satellite shortly before or at the start, scored, best first."""
    duration = view.end - view.start
    lookback = min(
        max(duration * EVENT_LOOKBACK_DURATIONS, EVENT_LOOKBACK_MIN), EVENT_LOOKBACK_MAX
    )
    after = min(max(duration / 4, EVENT_AFTER_MIN), EVENT_AFTER_MAX)
    events = queries.list_events(
        session, entry.satellite_id, view.start - lookback, view.start + after
    )
    tau = max(EVENT_TAU_MIN_S, duration.total_seconds() / 2)
    channel_words = words(f"{entry.channel} {entry.description or ''}")
    name_words = words(entry.channel)

    found = []
    for event in events:
        gap = (view.start - event.ts).total_seconds()
        at_start = gap >= -max(EVENT_AT_START_S, duration.total_seconds() / 10)
        proximity = math.exp(-abs(gap) / tau) * (1.0 if at_start else EVENT_AFTER_FACTOR)
        event_words = words(f"{event.kind} {event.text}")
        shared = sorted(event_words & channel_words)
        relevance = RELEVANCE_SHARED_WORD if shared else 0.0
        passage = _linking_passage(ctx, event.kind, event.text, entry, event_words, name_words)
        if passage is not None:
            relevance += RELEVANCE_KNOWLEDGE
        relevance = min(relevance, 1.0)
        found.append(
            {
                "ts": iso_z(event.ts),
                "kind": event.kind,
                "text": event.text,
                "offset_s": -gap,
                "proximity": round(proximity, 3),
                "relevance": round(relevance, 3),
                "shared_words": shared,
                "passage": passage,
                "confidence": EVENT_BASE
                + EVENT_PROXIMITY_WEIGHT * proximity
                + EVENT_RELEVANCE_WEIGHT
                * relevance
                * (RELEVANCE_FLOOR + (1 - RELEVANCE_FLOOR) * proximity),
            }
        )
    return sorted(found, key=lambda e: -e["confidence"])


def _linking_passage(
    ctx: ToolContext,
    kind: str,
    text: str,
    entry: CatalogEntry,
    event_words: set[str],
    name_words: set[str],
) -> dict[str, Any] | None:
    """A knowledge passage that mentions both the event and the channel, if any."""
    if ctx.knowledge is None or not event_words:
        return None
    query = f"{kind.replace('_', ' ')} {text} effect on {entry.channel.replace('_', ' ')}"
    for hit in ctx.knowledge.search(query, limit=KNOWLEDGE_LIMIT):
        passage_words = words(hit.text) | words(hit.heading)
        if (
            hit.distance <= KNOWLEDGE_MAX_DISTANCE
            and passage_words & event_words
            and (passage_words & name_words)
        ):
            return passage_dict(hit)
    return None


def passage_dict(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.passage_id,
        "source": hit.source,
        "heading": hit.heading,
        "text": hit.text,
        "distance": round(float(hit.distance), 3),
    }


def where(passage: dict[str, Any]) -> str:
    return passage["source"] + (f" ({passage['heading']})" if passage["heading"] else "")


def event_causes(
    view: queries.AnomalyView,
    events: list[dict[str, Any]],
    co_occurring: list[dict[str, Any]],
    common_confidence: float,
) -> list[Cause]:
    """The best-scored events as possible causes.

    A close event (proximity at least `SHARED_TRIGGER_PROXIMITY`) while other channels
    had anomalies at the same time is a specific candidate for that common cause: it
    ranks just above the unspecific "common cause" reading (`common_confidence`).
    """
    causes = []
    for event in events[:EVENT_CAUSES]:
        confidence = event["confidence"]
        shared = co_occurring and event["proximity"] >= SHARED_TRIGGER_PROXIMITY
        if shared:
            confidence = max(confidence, common_confidence + SHARED_TRIGGER_MARGIN)
        offset = event["offset_s"]
        when = f"{abs(offset):.0f} s {'before' if offset <= 0 else 'after'}"
        evidence = [
            f"event {event['kind']} at {event['ts']}, {when} the anomaly's start "
            f"{iso_z(view.start)}: {quote(event['text'])}"
        ]
        if event["shared_words"]:
            evidence.append(
                f"the event mentions {', '.join(event['shared_words'])}, as does channel "
                f"{view.channel} (its name or description)"
            )
        if event["passage"] is not None:
            evidence.append(
                f"the document {where(event['passage'])} mentions both: "
                f"{quote(event['passage']['text'])}"
            )
        if shared:
            channels = sorted({o["channel"] for o in co_occurring})
            evidence.append(
                f"{len(co_occurring)} anomalies on {', '.join(channels)} began at the same "
                "time, as a trigger affecting the whole satellite would cause"
            )
        causes.append(
            Cause(
                cause=(
                    f"possibly caused by {event['kind'].replace('_', ' ')} at {event['ts']} "
                    f"({quote(event['text'], 80)})"
                ),
                evidence=evidence,
                confidence=confidence,
            )
        )
    return causes


# --- recurrence ---------------------------------------------------------------------------


def recurrence(session: Session, view: queries.AnomalyView) -> dict[str, Any] | None:
    """Earlier anomalies of the same kind on the channel at a similar phase, if any recur."""
    earlier, _ = queries.list_anomalies(
        session, channel_ids=[view.channel_id], kind=view.kind, end=view.start, limit=500
    )
    earlier = [a for a in earlier if a.id != view.id and a.start < view.start]
    if len(earlier) < RECUR_MIN:
        return None

    period_s = _dominant_period_s(session, view)
    if period_s is not None:
        back = view.start - timedelta(seconds=period_s * RECUR_PERIODS_BACK)
        matches = _same_phase(
            [a for a in earlier if a.start >= back], view, period_s, PHASE_TOLERANCE
        )
        if len(matches) >= RECUR_MIN:
            return {"period_s": period_s, "cycle": "dominant period", "matches": matches}
    matches = _same_phase(earlier, view, DAY_S, TIME_OF_DAY_TOLERANCE_MIN * 60 / DAY_S)
    if len(matches) >= RECUR_MIN:
        return {"period_s": DAY_S, "cycle": "time of day", "matches": matches}
    return None


def _same_phase(
    earlier: list[queries.AnomalyView], view: queries.AnomalyView, period_s: float, tol: float
) -> list[dict[str, Any]]:
    phase = (view.start.timestamp() / period_s) % 1.0
    matches = []
    for other in earlier:
        if (view.start - other.start).total_seconds() < period_s / 2:
            continue  # within the same cycle: proves nothing about recurrence
        delta = abs((other.start.timestamp() / period_s) % 1.0 - phase)
        if min(delta, 1.0 - delta) <= tol:
            matches.append(anomaly_dict(other))
    return matches


def _dominant_period_s(session: Session, view: queries.AnomalyView) -> float | None:
    """The channel's dominant period before the anomaly, seconds, from its autocorrelation."""
    try:
        from detection import dominant_period
    except ImportError:  # detection not installed: fall back to the time of day
        return None
    before = queries.channel_points(
        session, view.channel_id, None, view.start, limit=PERIOD_POINTS, latest=True
    )
    if len(before) < 64:
        return None
    seconds = before["ts"].astype("int64").to_numpy() / 1e9
    step = float(np.median(np.diff(seconds)))
    if step <= 0:
        return None
    grid = np.arange(seconds[0], seconds[-1], step)
    values = np.interp(grid, seconds, before["value"].to_numpy(dtype=float))
    lag = dominant_period(values, max_lag=len(values) // 2)
    if lag is None or lag < 10:
        return None
    return float(lag * step)


def recurrence_causes(view: queries.AnomalyView, found: dict[str, Any] | None) -> list[Cause]:
    """A recurring behaviour as a possible cause."""
    if found is None:
        return []
    matches = found["matches"]
    period_min = found["period_s"] / 60
    cycle = (
        "at a similar time of day"
        if found["cycle"] == "time of day"
        else f"at a similar phase of the channel's dominant cycle of about {period_min:.0f} min"
    )
    return [
        Cause(
            cause=(
                f"a recurring behaviour of {view.channel}: {len(matches)} earlier "
                f"{view.kind.replace('_', ' ')} anomalies began {cycle}"
            ),
            evidence=[
                f"anomaly #{m['id']} ({m['kind']}, {m['severity']}) started {m['start']}"
                for m in matches[-5:]
            ],
            confidence=0.25 + 0.08 * min(len(matches), 5),
        )
    ]
