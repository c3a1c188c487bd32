"""Measure the detectors on every labelled series (not collected by pytest).

Prints, per dataset, event-wise recall, precision and F1 (no point adjustment: a
labelled window is found when some detection overlaps it; a detection overlapping no
window is one false positive) and the range-aware precision: the share of flagged time
(each detection lasting at least one cadence) that lies inside a labelled window
widened by its own length on either side. For UCR it prints the top-1 hit count: the
location of the highest-scoring detection lies within the labelled region +-100 points.
For TCPD, change-point F1 with a margin of 5 points (first point of every
``changepoint`` detection; precision over detections, recall over the union of labels).

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python -m tests.detection_benchmark \
        [--datasets nab smap_msl ucr_anomaly_2021 tcpd] [--limit N] [--only ID ...]
        [--set limits_novelty=2.0 ...] [--processes 2] [-v]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from detection import DetectedAnomaly, DetectorConfig, detect_series, enable_compile_cache
from eval.datasets import load_manifest, load_series
from eval.nab_score import PROFILES, normalise, optimise_threshold, sweep_rows

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UCR_MARGIN = 100  # points either side of the labelled UCR region
TCPD_MARGIN = 5  # points either side of a labelled change point


def _history(entry: dict[str, Any], ts: np.ndarray, values: np.ndarray) -> Any:
    """(timestamps, values) preceding the scored range, or None."""
    if entry["dataset"] == "smap_msl":
        train = np.load(DATA / entry["train_path"])[:, 0].astype(np.float64)
        step = int(ts[1] - ts[0])
        hist_ts = ts[0] + (np.arange(train.size, dtype=np.int64) - train.size) * step
        return hist_ts, train
    return None


def run_one(job: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """Detections on one series (with config overrides) and the numbers the report needs."""
    entry, overrides = job
    enable_compile_cache()
    series = load_series(DATA, entry)
    ts, values = series.ts_ns, series.values
    history = _history(entry, ts, values)
    offset = 0
    if entry["dataset"] == "ucr_anomaly_2021":
        offset = int(entry["train_end"])
        history = (ts[:offset], values[:offset])
        ts, values = ts[offset:], values[offset:]
    started = time.perf_counter()
    found = detect_series(ts, values, DetectorConfig(**overrides), history=history)
    elapsed = time.perf_counter() - started
    labels = [(a.value, b.value) for a, b in series.windows]
    row_scores = np.zeros(ts.size)
    for a in found:  # NAB counts an alarm at the first row of each detection
        k = min(int(np.searchsorted(ts, a.start.value)), ts.size - 1)
        row_scores[k] = max(row_scores[k], a.score)
    return {
        "nab_rows": sweep_rows(ts, labels) if entry["dataset"] == "nab" else None,
        "row_scores": row_scores,
        "dataset": entry["dataset"],
        "series_id": entry["series_id"],
        "labels": labels,
        "found": [_summary(a) for a in found],
        "cadence": float(np.median(np.diff(series.ts_ns))),
        "points": int(series.ts_ns.size),
        "seconds": elapsed,
        "ts0": int(series.ts_ns[0]),
        "annotations": entry.get("labels"),
    }


def _summary(a: DetectedAnomaly) -> tuple[str, str, int, int, float]:
    return a.detector, a.kind, a.start.value, a.end.value, a.score


def _event_counts(result: dict[str, Any]) -> tuple[int, int, int, float, float]:
    """(labels found, detections, false detections, flagged ns, flagged ns near labels)."""
    labels = result["labels"]
    spans = [(s, max(e, s + int(result["cadence"]))) for _, _, s, e, _ in result["found"]]
    hit = sum(any(s <= le and e >= ls for s, e in spans) for ls, le in labels)
    false = sum(not any(s <= le and e >= ls for ls, le in labels) for s, e in spans)
    near = [(ls - (le - ls), le + (le - ls)) for ls, le in labels]
    flagged = float(sum(e - s for s, e in spans))
    inside = 0.0
    for s, e in spans:
        inside += sum(max(0, min(e, ne) - max(s, ns)) for ns, ne in near)
    return hit, len(spans), false, flagged, min(inside, flagged)


def _ucr_top1(result: dict[str, Any]) -> bool:
    if not result["found"]:
        return False
    _, _, s, e, _ = max(result["found"], key=lambda f: f[4])
    cadence = result["cadence"]
    ls, le = result["labels"][0]
    return s <= le + UCR_MARGIN * cadence and e >= ls - UCR_MARGIN * cadence


def _tcpd_counts(result: dict[str, Any]) -> tuple[int, int, int]:
    """(labels found, change-point detections, true detections) with the margin."""
    cadence = result["cadence"]
    points = [
        round((s - result["ts0"]) / cadence)
        for d, _, s, _, _ in result["found"]
        if d == "changepoint"
    ]
    labels = sorted({int(a) for a, _ in result["annotations"]})
    hit = sum(any(abs(p - lab) <= TCPD_MARGIN for p in points) for lab in labels)
    true = sum(any(abs(p - lab) <= TCPD_MARGIN for lab in labels) for p in points)
    return hit, len(points), true


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def report(results: list[dict[str, Any]], verbose: bool) -> None:
    """Print per-series lines (verbose) and the per-dataset summary."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        group = r["dataset"]
        if group == "smap_msl":
            group = r["series_id"].split("/")[0]
        groups[group].append(r)
    for group, items in sorted(groups.items()):
        if group == "tcpd":
            hit = n_pred = true = n_lab = 0
            for r in items:
                h, p, t = _tcpd_counts(r)
                hit, n_pred, true = hit + h, n_pred + p, true + t
                n_lab += len({int(a) for a, _ in r["annotations"]})
            prec, rec = true / max(n_pred, 1), hit / max(n_lab, 1)
            print(
                f"tcpd: cp recall {rec:.2f} ({hit}/{n_lab}) precision {prec:.2f} "
                f"({true}/{n_pred}) F1 {_f1(prec, rec):.2f}"
            )
            continue
        tot = np.zeros(5)
        for r in items:
            counts = _event_counts(r)
            tot += counts
            if verbose:
                kinds = defaultdict(int)
                for d, k, *_ in r["found"]:
                    kinds[f"{d}:{k}"] += 1
                extra = f" top1 {_ucr_top1(r)}" if group == "ucr_anomaly_2021" else ""
                print(
                    f"  {r['series_id'][:58]:58s} {counts[0]}/{len(r['labels'])} "
                    f"det {counts[1]} false {counts[2]}{extra} {dict(kinds)}"
                )
        n_labels = sum(len(r["labels"]) for r in items)
        hit, n_pred, false, flagged, inside = tot
        rec = hit / max(n_labels, 1)
        prec = (n_pred - false) / max(n_pred, 1)
        line = (
            f"{group}: recall {rec:.2f} ({int(hit)}/{n_labels}) precision {prec:.2f} "
            f"({int(n_pred - false)}/{int(n_pred)}) F1 {_f1(prec, rec):.2f} "
            f"range-precision {inside / max(flagged, 1.0):.2f}"
        )
        if group == "ucr_anomaly_2021":
            line += f" top1 {sum(_ucr_top1(r) for r in items)}/{len(items)}"
        if group == "nab":
            files = [(r["nab_rows"], r["row_scores"]) for r in items]
            profile = PROFILES["standard"]
            threshold, raw = optimise_threshold(files, profile)
            n_windows = sum(rows.n_windows for rows, _ in files)
            line += (
                f" NAB-standard {normalise(raw, n_windows, profile):.1f}"
                f" (threshold {threshold:.1f})"
            )
        print(line)
    points = sum(r["points"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    print(f"cost {1e3 * seconds / max(points, 1):.3f} ms/point over {points} points")


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["nab", "smap_msl", "ucr_anomaly_2021"])
    parser.add_argument("--limit", type=int, default=None, help="series per dataset")
    parser.add_argument("--only", nargs="*", default=None, help="series_id substrings")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="DetectorConfig overrides k=v")
    args = parser.parse_args()

    chosen: list[dict[str, Any]] = []
    for dataset in args.datasets:
        entries = [e for e in load_manifest(DATA) if e["dataset"] == dataset]
        if args.only:
            entries = [e for e in entries if any(s in str(e["series_id"]) for s in args.only)]
        chosen.extend(entries[: args.limit])
    chosen.sort(key=lambda e: -(DATA / str(e["path"])).stat().st_size)
    started = time.perf_counter()
    with Pool(args.processes) as pool:
        overrides = {k: _number(v) for k, v in (item.split("=", 1) for item in args.set)}
        results = pool.map(run_one, [(e, overrides) for e in chosen], chunksize=1)
    report(results, args.verbose)
    print(f"elapsed {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
