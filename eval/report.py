"""Markdown report of a :func:`eval.runner.run_eval` result."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.anchors import anchors_for

TITLES = {
    "nab": "NAB (58 files) — NAB score, normalised (null 0, perfect 100)",
    "smap": "SMAP (telemanom channels) — event-wise, no point adjustment",
    "msl": "MSL (telemanom channels) — event-wise, no point adjustment",
    "ucr": "UCR anomaly archive 2021 — top-1 accuracy (label ± 100 points)",
    "tcpd": "TCPD (univariate series) — change-point F1 (margin 5) and cover",
}

NOTES = {
    "nab": (
        "Each method's threshold is optimised per profile over the corpus (NAB's sweep). "
        "The project's detector is credited at the row where it first *reported* an "
        "anomaly; the look-ahead row credits it at the anomaly's start instead (upper "
        "bound, not a real-time score). Event columns: NAB windows as labels, no slack. "
        "Range precision: share of flagged points inside a NAB window."
    ),
    "smap": "Counts summed over channels (micro). Range precision: flagged points within "
    "50 rows of a labelled window.",
    "msl": "Counts summed over channels (micro). Range precision: flagged points within "
    "50 rows of a labelled window.",
    "ucr": "Location: where the highest-scoring event peaks (project: its most anomalous "
    "subsequence, else its start), the top discord, or the largest |z|. Binseg and the "
    "never-firing detector rank nothing.",
    "tcpd": "Mean over series; precision against the union of annotators, recall averaged "
    "over annotators, cover averaged over annotators (as TCPD). The multivariate run_log "
    "is left out, as in TCPD's univariate table.",
}


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _rows(bench: str, rows: Sequence[Mapping[str, object]]) -> list[str]:
    if bench == "nab":
        header = [
            "method",
            "standard",
            "low FP",
            "low FN",
            "event P",
            "event R",
            "event F1",
            "range P",
            "online",
            "runtime s",
        ]
        body = [
            [
                str(r["method"]),
                _fmt(r["standard"], 1),
                _fmt(r["reward_low_FP_rate"], 1),
                _fmt(r["reward_low_FN_rate"], 1),
                _fmt(r["precision"]),
                _fmt(r["recall"]),
                _fmt(r["f1"]),
                _fmt(r["range_precision"]),
                _fmt(r["online"]),
                _fmt(r["seconds"], 1),
            ]
            for r in rows
        ]
    elif bench in ("smap", "msl"):
        header = ["method", "precision", "recall", "F1", "detections", "range P", "runtime s"]
        body = [
            [
                str(r["method"]),
                _fmt(r["precision"]),
                _fmt(r["recall"]),
                _fmt(r["f1"]),
                _fmt(r["detections"]),
                _fmt(r["range_precision"]),
                _fmt(r["seconds"], 1),
            ]
            for r in rows
        ]
    elif bench == "ucr":
        header = ["method", "correct", "of", "runtime s"]
        body = [
            [str(r["method"]), _fmt(r["correct"]), _fmt(r["series"]), _fmt(r["seconds"], 1)]
            for r in rows
        ]
    else:
        header = ["method", "F1", "cover", "series", "runtime s"]
        body = [
            [
                str(r["method"]),
                _fmt(r["f1"]),
                _fmt(r["cover"]),
                _fmt(r["series"]),
                _fmt(r["seconds"], 1),
            ]
            for r in rows
        ]
    return _table(header, body)


def _anchor_value(metric: str, value: float) -> str:
    if metric == "correct":
        return str(round(value))
    return _fmt(value, 3 if value < 10 else 1)


def _anchor_lines(bench: str) -> list[str]:
    anchors = anchors_for(bench)
    if not anchors:
        return []
    body = [[a.method, a.metric, _anchor_value(a.metric, a.value), a.source] for a in anchors]
    return ["", "Anchors:", "", *_table(["method", "metric", "value", "source"], body)]


def _series_line(bench: str, table: Mapping[str, object]) -> str:
    rows = table.get("rows") or []
    assert isinstance(rows, list)
    scored = max((int(r.get("series") or r.get("files") or 0) for r in rows), default=0)
    if scored and scored != table["series"]:
        return f"Series: {table['series']} loaded, {scored} scored."
    return f"Series: {table['series']}."


def to_markdown(results: Mapping[str, object]) -> str:
    """The report as markdown: one table per benchmark with its anchors, then runtime."""
    tables = results.get("benchmarks", {})
    assert isinstance(tables, Mapping)
    lines = [
        "# Evaluation results",
        "",
        "Produced by `python -m eval run`; project detector = `detection.ChannelDetector` "
        "with default `DetectorConfig`, fed point by point (a train split, where the "
        "benchmark has one, is the detector's reference and warm-up; nothing in it is "
        "reported).",
        "",
    ]
    for bench, table in tables.items():
        lines += [f"## {TITLES.get(bench, bench)}", "", _series_line(bench, table), ""]
        lines += _rows(bench, table["rows"])
        lines += ["", NOTES.get(bench, ""), *_anchor_lines(bench), ""]
    lines += [
        "## Runtime",
        "",
        f"Wall clock {_fmt(results.get('wall_seconds'), 1)} s with "
        f"{results.get('processes')} processes on {results.get('cpus')} CPUs "
        "(per-method runtimes above are summed over series, in the worker processes).",
        "",
    ]
    return "\n".join(lines)


#: A section another command writes (forecasts, QA, the notes on missed targets):
#: ``<!-- name:begin -->`` ... ``<!-- name:end -->``.
KEPT_SECTION = re.compile(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", re.DOTALL)


def write_report(results: Mapping[str, object], path: Path | str) -> Path:
    """Write :func:`to_markdown` to ``path``; return the path.

    Marked sections of the file it replaces (``KEPT_SECTION``) are kept, after the new
    tables, in their order.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if target.exists():
        kept = [m.group(0) for m in KEPT_SECTION.finditer(target.read_text())]
    text = to_markdown(results).rstrip("\n") + "\n"
    if kept:
        text += "\n" + "\n\n".join(kept) + "\n"
    target.write_text(text)
    return target
