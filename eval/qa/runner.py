"""Run the QA set against the offline planner and summarise the scores."""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent.context import ToolContext
from agent.planner import plan
from eval.qa.questions import QAItem, build_items
from eval.qa.scoring import ItemScore, score
from eval.qa.store import QA_NOW, StoreSpec, open_store
from eval.qa.truth import Truth
from store.models import Anomaly, Channel, Satellite

KINDS = ("spike", "level_shift", "variance_change", "trend_change", "flatline", "pattern")
SEVERITIES = ("low", "medium", "high", "critical")


#: Detector name of the synthetic anomalies added for the latency measurement.
LOAD_DETECTOR = "qa-load"


def run(subset: bool = False, spec: StoreSpec = StoreSpec(), load: int = 0) -> dict[str, Any]:
    """Ask every question (or the fast subset) and return the scores as a dict.

    With ``load``, that many synthetic anomalies (seeded, spread over the 30 days before
    "now" on the simulator's channels) are added first, to measure latency on a busier
    store; the expected answers are computed from the loaded store as well.
    """
    engine = open_store(spec)
    try:
        if load:
            add_load(engine, load)
        items = build_items(Truth(engine), QA_NOW)
        if subset:
            items = [i for i in items if i.subset]
        ctx = ToolContext(engine=engine, index=None, now=lambda: QA_NOW)
        plan(ctx, "anomalies hier")  # load dateparser's languages once, outside the timings
        scores = [_ask(ctx, item) for item in items]
    finally:
        engine.dispose()
    result = summarise(scores)
    result["load"] = load
    return result


def add_load(engine: Engine, count: int, seed: int = 7) -> None:
    """Add ``count`` synthetic closed anomalies on the simulator's channels (deterministic)."""
    rng = random.Random(seed)
    with Session(engine) as session:
        channel_ids = [
            int(c.id or 0)
            for c, s in session.exec(
                select(Channel, Satellite).join(
                    Satellite, col(Satellite.id) == col(Channel.satellite_id)
                )
            ).all()
            if s.name == StoreSpec().satellite
        ]
        for n in range(count):
            start = QA_NOW - timedelta(seconds=rng.randrange(30 * 86400))
            session.add(
                Anomaly(
                    channel_id=rng.choice(channel_ids),
                    start=start,
                    end=start + timedelta(seconds=10 * rng.randrange(1, 60)),
                    kind=rng.choice(KINDS),
                    score=rng.random() * 10,
                    severity=rng.choice(SEVERITIES),
                    detector=f"{LOAD_DETECTOR}-{n}",
                )
            )
        session.commit()


def _ask(ctx: ToolContext, item: QAItem) -> ItemScore:
    state: dict[str, Any] | None = None
    elapsed = 0.0
    outcome = None
    for turn in item.turns:
        started = time.perf_counter()
        outcome = plan(ctx, turn, state)
        elapsed = (time.perf_counter() - started) * 1000.0
        state = outcome.conversation
    assert outcome is not None
    results = [r for _, _, r in outcome.results]
    return score(item, outcome.result, results, elapsed)


def summarise(scores: list[ItemScore]) -> dict[str, Any]:
    """Totals, per-family and per-language accuracy, citation and date scores, latency."""
    latencies = sorted(s.latency_ms for s in scores)
    precisions = [s.precision for s in scores if s.precision is not None]
    recalls = [s.recall for s in scores if s.recall is not None]
    by: dict[str, dict[str, list[bool]]] = {"family": defaultdict(list), "lang": defaultdict(list)}
    for s in scores:
        by["family"][s.item.family].append(s.correct)
        by["lang"][s.item.lang].append(s.correct)
    expected = sum(s.dates_expected for s in scores)
    return {
        "questions": len(scores),
        "correct": sum(s.correct for s in scores),
        "accuracy": sum(s.correct for s in scores) / len(scores) if scores else 0.0,
        "date_match": sum(s.dates_matched for s in scores) / expected if expected else 1.0,
        "citation_precision": statistics.fmean(precisions) if precisions else 1.0,
        "citation_recall": statistics.fmean(recalls) if recalls else 1.0,
        "invented_dates": sum(len(s.invented_dates) for s in scores),
        "latency_ms_p50": statistics.median(latencies) if latencies else 0.0,
        "latency_ms_p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
        "by_family": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by["family"].items())},
        "by_language": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by["lang"].items())},
        "failures": {s.item.id: s.failures for s in scores if s.failures},
    }


def markdown_section(result: dict[str, Any]) -> str:
    """The scores as a markdown section for eval/RESULTS.md."""
    lines = [
        "## Agent QA (offline planner)",
        "",
        f"{result['questions']} questions (English and French) over the fixed QA store "
        "(seeded simulator SIM-1 replayed by the worker, MSL C-1 and T-9, SMAP A-1)"
        + (f" plus {result['load']} synthetic anomalies." if result.get("load") else "."),
        "",
        "| metric | value |",
        "|---|---|",
        f"| correct | {result['correct']}/{result['questions']} ({result['accuracy']:.1%}) |",
        f"| exact date match | {result['date_match']:.1%} |",
        f"| citation precision | {result['citation_precision']:.3f} |",
        f"| citation recall | {result['citation_recall']:.3f} |",
        f"| invented dates | {result['invented_dates']} |",
        f"| latency p50 / p95 | {result['latency_ms_p50']:.0f} ms / "
        f"{result['latency_ms_p95']:.0f} ms |",
        "",
        "| family | correct |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in result["by_family"].items()),
        "",
        "By language: " + ", ".join(f"{k} {v}" for k, v in result["by_language"].items()) + ".",
    ]
    if result["failures"]:
        lines += ["", "Failed: " + ", ".join(sorted(result["failures"])) + "."]
    return "\n".join(lines) + "\n"
