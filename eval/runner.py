"""Run the project's detector and the baselines over the benchmarks and score them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from eval.output import MethodOutput
from eval.tasks import BENCHMARKS, EvalSeries, iter_eval_series

logger = logging.getLogger(__name__)

#: Worker processes across series (the machine has 2 cores).
PROCESSES = 2
#: Manifest dataset names accepted as aliases of benchmark names.
ALIASES = {"smap_msl": ("smap", "msl"), "ucr_anomaly_2021": ("ucr",)}


def resolve_benchmarks(datasets: Iterable[str] | None) -> tuple[str, ...]:
    """Benchmark names from user input (benchmark or manifest dataset names)."""
    if datasets is None:
        return BENCHMARKS
    out: list[str] = []
    for name in datasets:
        key = name.strip().lower()
        expanded = ALIASES.get(key, (key,))
        for bench in expanded:
            if bench not in BENCHMARKS:
                raise ValueError(
                    f"unknown dataset {name!r}; choose from {', '.join(BENCHMARKS)} "
                    f"or {', '.join(ALIASES)}"
                )
            if bench not in out:
                out.append(bench)
    return tuple(b for b in BENCHMARKS if b in out)


def _init_worker() -> None:
    import numba

    from detection import enable_compile_cache

    enable_compile_cache()
    numba.set_num_threads(1)


def evaluate_series(series: EvalSeries) -> tuple[EvalSeries, dict[str, MethodOutput]]:
    """Every method on one series; NAB keeps per-row scores, the others drop them."""
    from eval.baselines import BASELINES
    from eval.project import PROJECT, run_project

    outputs: dict[str, MethodOutput] = {PROJECT: run_project(series)}
    for name, method in BASELINES.items():
        output = method(series)
        if output is not None:
            outputs[name] = output
    if series.benchmark != "nab":
        for output in outputs.values():
            output.point_scores = output.point_scores[:0]
    logger.info("evaluated %s/%s (%d points)", series.benchmark, series.series_id, series.n)
    return series, outputs


def _run_all(
    tasks: Sequence[EvalSeries], processes: int
) -> list[tuple[EvalSeries, dict[str, MethodOutput]]]:
    ordered = sorted(tasks, key=lambda s: -s.n)
    if processes <= 1 or len(ordered) <= 1:
        _init_worker()
        return [evaluate_series(s) for s in ordered]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_init_worker) as pool:
        return list(pool.imap_unordered(evaluate_series, ordered))


def run_eval(
    data_dir: Path | str,
    datasets: Iterable[str] | None = None,
    limit: int | None = None,
    processes: int = PROCESSES,
    series_ids: Collection[str] | None = None,
) -> dict[str, object]:
    """Evaluate the project's detector and the baselines; return tables per benchmark.

    Parameters
    ----------
    data_dir : path
        Folder holding ``manifest.json`` (``../shared/data``).
    datasets : iterable of str or None
        Benchmarks (``nab``, ``smap``, ``msl``, ``ucr``, ``tcpd``, or ``smap_msl``,
        ``ucr_anomaly_2021``); None runs all.
    limit : int or None
        At most this many series per benchmark.
    processes : int
        Worker processes across series.
    series_ids : collection of str or None
        Only these manifest series ids (all when None).

    Returns
    -------
    dict
        ``{"benchmarks": {name: {"series": n, "rows": [...]}}, "wall_seconds": s,
        "processes": p, "data_dir": str}``; rows hold one method each.
    """
    from eval.scoring import SCORERS

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    started = time.perf_counter()
    benchmarks = resolve_benchmarks(datasets)
    tasks = list(iter_eval_series(Path(data_dir), benchmarks, limit, series_ids))
    logger.info("evaluating %d series of %s with %d processes", len(tasks), benchmarks, processes)
    results = _run_all(tasks, processes)

    tables: dict[str, object] = {}
    for bench in benchmarks:
        subset = sorted(
            ((s, o) for s, o in results if s.benchmark == bench), key=lambda r: r[0].series_id
        )
        if subset:
            tables[bench] = {"series": len(subset), "rows": SCORERS[bench](subset)}
    return {
        "benchmarks": tables,
        "wall_seconds": time.perf_counter() - started,
        "processes": processes,
        "cpus": os.cpu_count(),
        "data_dir": str(data_dir),
    }


def benchmark_rows(results: Mapping[str, object], benchmark: str) -> list[dict[str, object]]:
    """The rows of one benchmark from :func:`run_eval`'s result (empty if not run)."""
    tables = results.get("benchmarks", {})
    assert isinstance(tables, dict)
    table = tables.get(benchmark)
    return list(table["rows"]) if table else []
