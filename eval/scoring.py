"""Turn every method's outputs on every series into one row of numbers per benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from eval.changepoint_f1 import changepoint_score
from eval.covering import covering
from eval.metrics import EventScore, event_score
from eval.nab_score import PROFILES, SweepRows, normalise, optimise_threshold, sweep_rows
from eval.output import MethodOutput, squash
from eval.range_precision import RangePrecision, range_precision
from eval.tasks import EvalSeries
from eval.ucr_score import ucr_top1_correct

#: Rows a labelled window is widened by on each side for "near" in range precision
#: (SMAP/MSL; NAB windows already include NAB's own slack).
NEAR_ROWS = 50

Row = dict[str, object]
Results = Sequence[tuple[EvalSeries, Mapping[str, MethodOutput]]]


def _stamp(ts_ns: np.ndarray, row: int) -> pd.Timestamp:
    return pd.Timestamp(int(ts_ns[min(max(row, 0), ts_ns.size - 1)]), unit="ns", tz="UTC")


def _event_parts(
    series: EvalSeries, output: MethodOutput, near: int
) -> tuple[EventScore, RangePrecision]:
    ts = series.ts_ns
    labelled = [(_stamp(ts, a), _stamp(ts, b)) for a, b in series.labels]
    detected = [(_stamp(ts, e.start), _stamp(ts, e.end)) for e in output.events]
    windows = [(e.start, min(e.end, series.n - 1)) for e in output.events]
    return event_score(labelled, detected), range_precision(series.n, series.labels, windows, near)


def _sum_events(parts: Sequence[EventScore]) -> EventScore:
    return EventScore(
        *(
            int(sum(getattr(p, f) for p in parts))
            for f in ("true_windows", "found_windows", "detections", "false_detections")
        )
    )


def _event_row(results: Results, method: str, near: int) -> Row:
    events, ranges = [], RangePrecision(0, 0)
    for series, outputs in results:
        if method in outputs:
            event, rng = _event_parts(series, outputs[method], near)
            events.append(event)
            ranges = ranges + rng
    total = _sum_events(events)
    return {
        "precision": total.precision,
        "recall": total.recall,
        "f1": total.f1,
        "detections": total.detections,
        "range_precision": ranges.precision,
    }


def _seconds(results: Results, method: str) -> float:
    return float(sum(o[method].seconds for _, o in results if method in o))


def _methods(results: Results) -> list[str]:
    names: list[str] = []
    for _, outputs in results:
        names.extend(n for n in outputs if n not in names)
    return names


def score_nab(results: Results) -> list[Row]:
    """NAB scores (three profiles, optimised threshold) plus event-wise numbers."""
    rows_of = {s.series_id: sweep_rows(s.ts_ns, sorted(s.nab_windows)) for s, _ in results}
    variants: list[tuple[str, str, bool]] = []
    for method in _methods(results):
        variants.append((method, method, False))
        if method == "project":
            variants.append(("project (credited at start, look-ahead)", method, True))
    out = []
    for label, method, at_start in variants:
        files: list[tuple[SweepRows, np.ndarray]] = []
        for series, outputs in results:
            if method not in outputs:
                continue
            output = outputs[method]
            scores = output.point_scores
            if at_start:
                scores = np.zeros(series.n)
                for e in output.events:
                    scores[e.start] = max(scores[e.start], float(squash(e.score)))
            files.append((rows_of[series.series_id], scores))
        if not files:
            continue
        n_windows = sum(r.n_windows for r, _ in files)
        row: Row = {"method": label, "files": len(files)}
        for name, profile in PROFILES.items():
            threshold, raw = optimise_threshold(files, profile)
            row[name] = normalise(raw, n_windows, profile)
            row[f"{name}_threshold"] = threshold
        row.update(_event_row(results, method, 0))
        row["seconds"] = _seconds(results, method)
        row["online"] = all(o[method].online for _, o in results if method in o)
        out.append(row)
    return out


def score_events(results: Results) -> list[Row]:
    """SMAP/MSL: event-wise precision/recall/F1 (micro) and range-aware precision."""
    out = []
    for method in _methods(results):
        row: Row = {"method": method, "series": sum(method in o for _, o in results)}
        row.update(_event_row(results, method, NEAR_ROWS))
        row["seconds"] = _seconds(results, method)
        out.append(row)
    return out


def score_ucr(results: Results) -> list[Row]:
    """UCR: number of series whose top-1 location is within the widened label."""
    out = []
    for method in _methods(results):
        answered = [(s, o[method]) for s, o in results if method in o]
        ranks = any(o.top1 is not None for _, o in answered)
        correct = sum(ucr_top1_correct(o.top1, *s.labels[0]) for s, o in answered)
        out.append(
            {
                "method": method,
                "series": len(answered),
                "correct": correct if ranks else None,
                "seconds": _seconds(results, method),
            }
        )
    return out


def score_tcpd(results: Results) -> list[Row]:
    """TCPD: mean change-point F1 (margin 5) and covering over univariate series."""
    univariate = [(s, o) for s, o in results if s.univariate and s.annotations is not None]
    out = []
    for method in _methods(univariate):
        f1, cover = [], []
        for series, outputs in univariate:
            if method in outputs:
                cps = outputs[method].change_points
                assert series.annotations is not None
                f1.append(changepoint_score(series.annotations, cps).f1)
                cover.append(covering(series.annotations, cps, series.n))
        out.append(
            {
                "method": method,
                "series": len(f1),
                "f1": float(np.mean(f1)) if f1 else float("nan"),
                "cover": float(np.mean(cover)) if cover else float("nan"),
                "seconds": _seconds(results, method),
            }
        )
    return out


SCORERS = {
    "nab": score_nab,
    "smap": score_events,
    "msl": score_events,
    "ucr": score_ucr,
    "tcpd": score_tcpd,
}
