"""The explanation tool: possible causes of an anomaly, each with its evidence.

An explanation is a possibility, never a verdict. Its confidence (0..1) is a simple
documented heuristic of how much evidence supports it (see the constants below).
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import numpy as np
from sqlmodel import Session

from agent import catalog
from agent import explain_evidence as evidence
from agent import explain_feedback as feedback
from agent._common import anomaly_dict, visible_anomaly
from agent.context import ToolContext
from agent.explain_evidence import Cause
from store import queries
from store.errors import NotFoundError as StoreNotFoundError
from store.vector import describe_anomaly

#: Points before the anomaly's start that define the channel's normal range.
BASELINE_POINTS = 1_000
#: Anomalies on other channels starting or ending within this margin count as co-occurring.
COOCCUR_MARGIN = timedelta(minutes=10)
#: How many similar past anomalies are fetched from the vector index.
SIMILAR_LIMIT = 3
#: Robust standard deviation from the median absolute deviation (normal data).
MAD_TO_STD = 1.4826
#: Operator labels that make a similar past anomaly informative.
LABELS = ("confirmed", "false_positive", "expected")

#: A generic reading of each kind, with the confidence it gets without other evidence.
KIND_CAUSES: dict[str, tuple[str, float]] = {
    "spike": ("a transient glitch: a single outlier, possibly a measurement error", 0.25),
    "level_shift": ("a change of operating mode, configuration or load", 0.25),
    "variance_change": ("changed noise: sensor degradation or a new operating regime", 0.2),
    "trend_change": ("a slow drift, e.g. a thermal or ageing effect", 0.2),
    "flatline": ("a stuck sensor or frozen telemetry", 0.35),
    "gap": ("a telemetry outage, e.g. loss of signal between ground passes", 0.35),
    "pattern": ("a shape the channel has not shown before in its recent history", 0.2),
}


def explain(ctx: ToolContext, anomaly_id: int) -> dict[str, Any]:
    """Possible causes of an anomaly, with evidence and a confidence in 0..1 each.

    Looks at the anomaly's kind and magnitude against the channel's normal range
    (points before it), anomalies on the satellite's other channels overlapping it
    (with their lag), context events shortly before it (scored by closeness and by
    words shared with the channel and with knowledge passages), earlier anomalies of
    the same kind recurring at a similar phase, similar past anomalies from the vector
    index with the operators' annotations, and knowledge passages near its description.
    Explanations are ranked by confidence; says so when nothing supports a cause.
    """
    with Session(ctx.engine) as session:
        view = visible_anomaly(session, ctx.tenant, anomaly_id)
        entries = catalog.catalog(session, ctx.tenant)
        entry = next(e for e in entries if e.channel_id == view.channel_id)
        others = [
            e.channel_id
            for e in entries
            if e.satellite_id == entry.satellite_id and e.channel_id != view.channel_id
        ]
        magnitude = _magnitude(session, view)
        co_occurring = _co_occurring(session, view, others)
        events = evidence.event_candidates(ctx, session, view, entry)
        recurring = evidence.recurrence(session, view)
        similar = _similar(ctx, session, view)
        notes = feedback.operator_notes(
            ctx, session, view, similar, {e.channel_id for e in entries}
        )
    passages = feedback.knowledge_passages(ctx, view, entry)

    causes = _causes(view, magnitude, co_occurring, similar, notes)
    causes += evidence.event_causes(view, events, co_occurring, _common_confidence(co_occurring))
    causes += evidence.recurrence_causes(view, recurring)
    causes += feedback.note_causes(view, notes)
    causes += feedback.knowledge_causes(passages)
    return {
        "anomaly": anomaly_dict(view),
        "duration_s": (view.end - view.start).total_seconds(),
        "magnitude": magnitude,
        "co_occurring": co_occurring,
        "events": events,
        "recurrence": recurring,
        "similar": similar,
        "annotations": notes,
        "knowledge": passages,
        "explanations": [c.as_dict() for c in sorted(causes, key=lambda c: -c.confidence)],
        "notes": _notes(ctx, view, co_occurring, events, similar, len(causes)),
    }


def _notes(
    ctx: ToolContext,
    view: queries.AnomalyView,
    co_occurring: list[dict[str, Any]],
    events: list[dict[str, Any]],
    similar: list[dict[str, Any]],
    causes: int,
) -> list[str]:
    notes = []
    if causes <= 1:
        notes.append(
            "no evidence found for a specific cause; the reading given follows from the "
            "anomaly's kind only"
        )
    if not co_occurring:
        notes.append(f"no other channel of {view.satellite} had an anomaly at the same time")
    if not events:
        notes.append("no telecommand, manoeuvre or other event was recorded just before it")
    if ctx.knowledge is None:
        notes.append("no knowledge documents are available")
    if not similar:
        notes.append(
            "no similar past anomaly was found"
            if ctx.index is not None
            else "no vector index is available to look for similar past anomalies"
        )
    return notes


def _magnitude(session: Session, view: queries.AnomalyView) -> dict[str, Any]:
    """The anomaly's size: from the detector's params, and against the normal range."""
    result: dict[str, Any] = {"detector_magnitude": view.params.get("magnitude")}
    before = queries.channel_points(
        session, view.channel_id, None, view.start, limit=BASELINE_POINTS, latest=True
    )
    before = before[before["ts"] < view.start]
    during = queries.channel_points(session, view.channel_id, view.start, view.end)
    result["baseline_points"] = len(before)
    if len(before) < 3:
        return result

    values = before["value"].to_numpy(dtype=float)
    median = float(np.median(values))
    spread = MAD_TO_STD * float(np.median(np.abs(values - median)))
    low, high = (float(q) for q in np.percentile(values, [1, 99]))
    result.update(
        baseline_median=median,
        baseline_robust_std=spread,
        normal_low=low,
        normal_high=high,
    )
    if len(during):
        inside = during["value"].to_numpy(dtype=float)
        peak = float(inside[int(np.argmax(np.abs(inside - median)))])
        result["peak"] = peak
        result["peak_deviation_std"] = (peak - median) / spread if spread > 0 else None
    return result


def _co_occurring(
    session: Session, view: queries.AnomalyView, channel_ids: list[int]
) -> list[dict[str, Any]]:
    if not channel_ids:
        return []
    found, _ = queries.list_anomalies(
        session,
        channel_ids=channel_ids,
        start=view.start - COOCCUR_MARGIN,
        end=view.end + COOCCUR_MARGIN,
        limit=50,
        newest_first=False,
    )
    return [{**anomaly_dict(o), "lag_s": (o.start - view.start).total_seconds()} for o in found]


def _similar(
    ctx: ToolContext, session: Session, view: queries.AnomalyView
) -> list[dict[str, Any]]:
    if ctx.index is None:
        return []
    kwargs: dict[str, Any] = {"limit": SIMILAR_LIMIT, "exclude_id": view.id}
    if "tenant" in inspect.signature(ctx.index.similar).parameters:
        kwargs["tenant"] = ctx.tenant
    hits = ctx.index.similar(describe_anomaly(view), **kwargs)
    visible = {e.channel_id for e in catalog.catalog(session, ctx.tenant)}
    similar = []
    for hit in hits:
        try:
            other = queries.get_anomaly(session, int(hit.anomaly_id))
        except StoreNotFoundError:  # the index may be stale; skip what SQL no longer has
            continue
        if other.channel_id not in visible or other.id == view.id:
            continue
        similar.append({**anomaly_dict(other), "distance": round(float(hit.distance), 3)})
    return similar


def _causes(
    view: queries.AnomalyView,
    magnitude: dict[str, Any],
    co_occurring: list[dict[str, Any]],
    similar: list[dict[str, Any]],
    notes: list[dict[str, Any]],
) -> list[Cause]:
    causes = []
    labelled_notes = {n["anomaly_id"] for n in notes if n["label"]}

    if co_occurring:
        channels = sorted({o["channel"] for o in co_occurring})
        causes.append(
            Cause(
                cause=(
                    f"a common cause on {view.satellite} affecting several channels at once "
                    f"({', '.join(channels)} too), e.g. a mode change or a power event"
                ),
                evidence=[
                    f"anomaly #{o['id']} on {o['channel']} ({o['kind']}, {o['severity']}) "
                    f"started {o['start']}, {o['lag_s']:+.0f} s from this one"
                    for o in co_occurring
                ],
                confidence=_common_confidence(co_occurring),
            )
        )

    for other in similar:
        if other["id"] in labelled_notes:  # the operators' own words say more (note_causes)
            continue
        labelled = other["status"] in LABELS
        closeness = max(0.0, 1.0 - other["distance"])
        label = f", marked {other['status']} by an operator" if labelled else ""
        causes.append(
            Cause(
                cause=(
                    f"the same behaviour as anomaly #{other['id']} on {other['channel']}{label}"
                ),
                evidence=[
                    f"anomaly #{other['id']} ({other['kind']}, {other['severity']}) started "
                    f"{other['start']}; description distance {other['distance']:.2f}"
                ],
                confidence=(0.5 if labelled else 0.3) * closeness,
            )
        )

    generic, confidence = KIND_CAUSES.get(view.kind, ("an unusual behaviour", 0.15))
    causes.append(
        Cause(cause=generic, evidence=_own_evidence(view, magnitude), confidence=confidence)
    )
    return causes


def _common_confidence(co_occurring: list[dict[str, Any]]) -> float:
    """Confidence of a common cause: more channels and a short lag make it likelier."""
    if not co_occurring:
        return 0.0
    channels = {o["channel"] for o in co_occurring}
    closest = min(abs(o["lag_s"]) for o in co_occurring)
    return 0.35 + 0.15 * len(channels) + (0.1 if closest <= 60 else 0.0)


def _own_evidence(view: queries.AnomalyView, magnitude: dict[str, Any]) -> list[str]:
    """What the anomaly's own data say: kind, size against the normal range."""
    evidence = [f"the detector ({view.detector}) classified it as {view.kind}"]
    if magnitude.get("detector_magnitude") is not None:
        evidence.append(
            f"detector magnitude {float(magnitude['detector_magnitude']):.1f} robust std"
        )
    if "peak" in magnitude:
        deviation = magnitude.get("peak_deviation_std")
        size = f", {deviation:+.1f} robust std from the median" if deviation is not None else ""
        evidence.append(
            f"peak value {magnitude['peak']:.6g}{size}; normal range "
            f"{magnitude['normal_low']:.6g} to {magnitude['normal_high']:.6g} over the "
            f"{magnitude['baseline_points']} points before it"
        )
    elif magnitude.get("baseline_points", 0) < 3:
        evidence.append("too few stored points before it to measure its normal range")
    return evidence
