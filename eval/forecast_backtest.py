"""Forecast backtests: hold back the end of real series, forecast it, score the interval.

For every NAB and SMAP/MSL series of the manifest, the last ``HOLDOUT_SHARE`` of the
points (at most ``MAX_HOLDOUT`` points) is held back; the forecast is fitted on what
comes before, with the period the channel profile would learn, and scored on what
happened: the share of held-back values inside the prediction interval (coverage,
nominal ``LEVEL``) and the error of the point forecast (MAE, and MASE against the
last-value forecast). The markdown section goes into ``eval/RESULTS.md`` between the
``<!-- forecast:begin -->`` and ``<!-- forecast:end -->`` markers.

Run with ``python -m eval.forecast_backtest [DATA_DIR] [RESULTS_MD]``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detection.forecast import forecast
from detection.profile import learn_period
from eval.datasets import LabelledSeries, iter_series

logger = logging.getLogger(__name__)

DATASETS = ("nab", "smap_msl")
LEVEL = 0.9
HOLDOUT_SHARE = 0.05
MAX_HOLDOUT = 200
MIN_HOLDOUT = 10
BEGIN = "<!-- forecast:begin -->"
END = "<!-- forecast:end -->"


@dataclass(frozen=True)
class BacktestRow:
    """Scores of one series' held-back end."""

    dataset: str
    series_id: str
    fitted: int
    horizon: int
    period: int | None
    coverage: float
    mae: float
    mase: float
    seconds: float


def backtest_series(series: LabelledSeries, level: float = LEVEL) -> BacktestRow | None:
    """Forecast the held-back end of one series; None when it is too short."""
    finite = np.isfinite(series.values)
    ts, values = series.ts_ns[finite], series.values[finite]
    horizon = int(min(MAX_HOLDOUT, max(MIN_HOLDOUT, HOLDOUT_SHARE * values.size)))
    if values.size < 4 * horizon:
        return None
    train_ts, train = ts[:-horizon], values[:-horizon]
    actual = values[-horizon:]

    started = time.perf_counter()
    period = learn_period(train)
    result = forecast(train_ts, train, horizon, period=period, level=level)
    seconds = time.perf_counter() - started

    inside = (actual >= result.lower) & (actual <= result.upper)
    mae = float(np.mean(np.abs(actual - result.mean)))
    naive = float(np.mean(np.abs(actual - train[-1])))
    return BacktestRow(
        dataset=series.dataset,
        series_id=series.series_id,
        fitted=min(train.size, 3000),
        horizon=horizon,
        period=result.period,
        coverage=float(np.mean(inside)),
        mae=mae,
        mase=mae / naive if naive > 0 else float("nan"),
        seconds=seconds,
    )


def run_backtests(data_dir: Path, datasets: Iterable[str] = DATASETS) -> list[BacktestRow]:
    """Backtest every series of ``datasets``."""
    rows: list[BacktestRow] = []
    for dataset in datasets:
        for series in iter_series(data_dir, dataset):
            row = backtest_series(series)
            if row is not None:
                rows.append(row)
                logger.info("%s: coverage %.2f", row.series_id, row.coverage)
    return rows


def to_markdown(rows: Sequence[BacktestRow], level: float = LEVEL) -> str:
    """The RESULTS.md section, markers included."""
    lines = [
        BEGIN,
        f"## Forecasts — held-back end of real series, {level:.0%} prediction interval",
        "",
        "STL + ARIMA(1,1,1) (`detection/forecast.py`), period from the channel profile; the "
        f"last {HOLDOUT_SHARE:.0%} of each series (between {MIN_HOLDOUT} and {MAX_HOLDOUT} "
        "points) held back. Coverage: share of held-back values inside the interval; MASE: "
        "MAE over the MAE of repeating the last value (< 1 beats it). "
        "`python -m eval.forecast_backtest`.",
        "",
        "| dataset | series | mean coverage | median coverage | median MASE | mean fit s |",
        "|---|---|---|---|---|---|",
    ]
    for dataset in sorted({r.dataset for r in rows}):
        part = [r for r in rows if r.dataset == dataset]
        lines.append(_summary(dataset, part))
    lines.append(_summary("all", list(rows)))
    pooled = sum(r.coverage * r.horizon for r in rows) / max(sum(r.horizon for r in rows), 1)
    lines += [
        "",
        f"Pooled over all held-back points: coverage {pooled:.3f} (nominal {level:.2f}).",
        END,
    ]
    return "\n".join(lines)


def _summary(name: str, rows: Sequence[BacktestRow]) -> str:
    cov = np.array([r.coverage for r in rows])
    mase = np.array([r.mase for r in rows if np.isfinite(r.mase)])
    secs = np.array([r.seconds for r in rows])
    return (
        f"| {name} | {len(rows)} | {cov.mean():.3f} | {np.median(cov):.3f} | "
        f"{np.median(mase) if mase.size else float('nan'):.2f} | {secs.mean():.2f} |"
    )


def insert_section(results_md: Path, section: str) -> None:
    """Replace the text between the forecast markers of ``results_md``, or append it."""
    text = results_md.read_text() if results_md.exists() else "# Evaluation results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results_md.write_text(text)


def main(argv: Sequence[str]) -> None:
    """Run the backtests and write the section into RESULTS.md."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data_dir = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared" / "data"
    results = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("RESULTS.md")
    insert_section(results, to_markdown(run_backtests(data_dir)))


if __name__ == "__main__":
    main(sys.argv[1:])
