"""Evidence from people for explanations: operator annotations of this and similar
anomalies, and passages of operator documents (knowledge).

Every date in an evidence string is copied from a stored record.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from agent.catalog import CatalogEntry
from agent.context import ToolContext
from agent.explain_evidence import (
    KNOWLEDGE_LIMIT,
    KNOWLEDGE_MAX_DISTANCE,
    Cause,
    passage_dict,
    quote,
    where,
)
from store import queries
from store.annotations import annotations_of, get_annotation
from store.errors import NotFoundError as StoreNotFoundError
from store.vector import describe_anomaly, iso_z

#: Annotations found through the notes index count when their distance is at most this.
NOTE_MAX_DISTANCE = 0.45


# --- operator annotations -----------------------------------------------------------------


def operator_notes(
    ctx: ToolContext,
    session: Session,
    view: queries.AnomalyView,
    similar: list[dict[str, Any]],
    visible: set[int],
) -> list[dict[str, Any]]:
    """Annotations of this anomaly and of similar ones (vector index and notes index)."""
    distance = {s["id"]: float(s["distance"]) for s in similar}
    distance[view.id] = 0.0
    annotations = annotations_of(session, list(distance))
    if ctx.index is not None and hasattr(ctx.index, "similar_notes"):
        known = {a.id for a in annotations}
        for hit in ctx.index.similar_notes(describe_anomaly(view), limit=5, tenant=ctx.tenant):
            if hit.distance > NOTE_MAX_DISTANCE or hit.annotation_id in known:
                continue
            try:
                annotations.append(get_annotation(session, hit.annotation_id))
            except StoreNotFoundError:  # the index may be stale
                continue
            distance.setdefault(hit.anomaly_id, float(hit.distance))

    notes = []
    for note in annotations:
        try:
            other = (
                view
                if note.anomaly_id == view.id
                else queries.get_anomaly(session, note.anomaly_id)
            )
        except StoreNotFoundError:
            continue
        if other.channel_id not in visible:
            continue
        notes.append(
            {
                "annotation_id": note.id,
                "anomaly_id": note.anomaly_id,
                "anomaly_start": iso_z(other.start),
                "channel": other.channel,
                "author": note.author,
                "label": note.label,
                "text": note.text,
                "created_at": iso_z(note.created_at),
                "distance": round(distance.get(note.anomaly_id, NOTE_MAX_DISTANCE), 3),
            }
        )
    return notes


_LABEL_CAUSE = {
    "expected": "expected behaviour",
    "false_positive": "possibly a false positive of the detectors",
    "confirmed": "possibly a real fault",
}


def note_causes(view: queries.AnomalyView, notes: list[dict[str, Any]]) -> list[Cause]:
    """Operator feedback on this or similar anomalies as possible causes (labelled ones)."""
    causes = []
    by_anomaly: dict[int, list[dict[str, Any]]] = {}
    for note in notes:
        by_anomaly.setdefault(note["anomaly_id"], []).append(note)
    for anomaly_id, group in by_anomaly.items():
        labelled = [n for n in group if n["label"]]
        if not labelled:
            continue
        latest = labelled[-1]
        label = latest["label"].replace("_", " ")
        own = anomaly_id == view.id
        subject = "this anomaly" if own else f"the similar anomaly #{anomaly_id}"
        causes.append(
            Cause(
                cause=(
                    f"{_LABEL_CAUSE.get(latest['label'], label)}: operators marked {subject} "
                    f"as {label}: {quote(latest['text'])}"
                ),
                evidence=[
                    f"annotation by {quote(n['author'], 80)} at {n['created_at']} on anomaly "
                    f"#{n['anomaly_id']} ({n['channel']}, started {n['anomaly_start']})"
                    + (f", label {n['label']}" if n["label"] else "")
                    + f": {quote(n['text'])}"
                    for n in group
                ],
                confidence=0.8 if own else 0.3 + 0.4 * max(0.0, 1.0 - latest["distance"]),
            )
        )
    return causes


# --- knowledge ----------------------------------------------------------------------------


def knowledge_passages(
    ctx: ToolContext, view: queries.AnomalyView, entry: CatalogEntry
) -> list[dict[str, Any]]:
    """Passages of operator documents near the anomaly's description."""
    if ctx.knowledge is None:
        return []
    text = f"{describe_anomaly(view)}. {entry.description or ''}"
    return [
        passage_dict(hit)
        for hit in ctx.knowledge.search(text, limit=KNOWLEDGE_LIMIT)
        if hit.distance <= KNOWLEDGE_MAX_DISTANCE
    ]


def knowledge_causes(passages: list[dict[str, Any]]) -> list[Cause]:
    """The nearest passage as a possible (documented) behaviour."""
    if not passages:
        return []
    best = passages[0]
    return [
        Cause(
            cause=f"possibly the behaviour documented in {where(best)}",
            evidence=[
                f"{where(p)} (distance {p['distance']:.2f}): {quote(p['text'])}" for p in passages
            ],
            confidence=0.1 + 0.35 * max(0.0, 1.0 - best["distance"] / KNOWLEDGE_MAX_DISTANCE),
        )
    ]
