"""The NAB score: windows, scaled-sigmoid weighting, cost profiles, threshold sweep.

Implements the scoring rules of the Numenta Anomaly Benchmark as described in
Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms -- the Numenta
Anomaly Benchmark", ICMLA 2015, and NAB's documentation:

* the first 15 % of each file (at most 750 rows) is probationary and not scored;
* a detection inside a labelled window earns the scaled sigmoid of its relative
  position, so the earliest detection of a window earns the full ``tp`` weight; only
  the best (earliest) detection of a window counts, a missed window costs ``fn``;
* a detection outside every window costs ``fp`` times the scaled sigmoid of its
  distance past the preceding window (in window widths), or the full ``fp`` when no
  window precedes it;
* one threshold per detector and profile, chosen to maximise the corpus score;
* the corpus score is normalised so the null detector scores 0 and the perfect
  detector 100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Share of each file's rows that is probationary (not scored).
PROBATION_PERCENT = 0.15
#: Row count above which the probationary period stops growing (0.15 * 5000 = 750 rows).
PROBATION_ROW_CAP = 5000
#: Relative position past a window beyond which a false positive costs the full weight.
FP_FULL_COST_AFTER = 3.0


@dataclass(frozen=True)
class CostProfile:
    """Weights of one NAB application profile (dimensionless)."""

    name: str
    tp: float
    fn: float
    fp: float


#: NAB's three application profiles.
PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile("standard", tp=1.0, fn=1.0, fp=0.11),
    "reward_low_FP_rate": CostProfile("reward_low_FP_rate", tp=1.0, fn=1.0, fp=0.22),
    "reward_low_FN_rate": CostProfile("reward_low_FN_rate", tp=1.0, fn=2.0, fp=0.11),
}


def load_profiles(path: Path) -> dict[str, CostProfile]:
    """Read NAB's ``profiles.json`` (``{name: {"CostMatrix": {...Weight: w}}}``)."""
    document = json.loads(Path(path).read_text())
    out = {}
    for name, body in document.items():
        costs = body["CostMatrix"]
        out[name] = CostProfile(name, costs["tpWeight"], costs["fnWeight"], costs["fpWeight"])
    return out


def scaled_sigmoid(position: NDArray[np.float64]) -> NDArray[np.float64]:
    """NAB's weighting curve ``2 / (1 + exp(5 x)) - 1``, and -1 beyond ``x > 3``.

    Parameters
    ----------
    position : ndarray of float64
        Relative position: in ``[-1, 0)`` inside a window (-1 at its first row), positive
        past its end, in window widths.

    Returns
    -------
    ndarray of float64
        Values in ``[-1, 1]``.
    """
    x = np.asarray(position, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > FP_FULL_COST_AFTER, -1.0, value)


def probation_length(n_rows: int) -> int:
    """Number of leading rows NAB leaves unscored: ``min(floor(0.15 n), 0.15 * 5000)``."""
    return int(min(math.floor(PROBATION_PERCENT * n_rows), PROBATION_PERCENT * PROBATION_ROW_CAP))


@dataclass(frozen=True)
class SweepRows:
    """Scoring weights of one file's scorable (non-probationary) rows.

    Attributes
    ----------
    scorable : ndarray of bool
        Which rows of the file are scored (all but the probationary ones).
    window : ndarray of int64
        Per scorable row, the index of its window, or -1 outside every window.
    tp_part : ndarray of float64
        Inside windows: scaled sigmoid of the position divided by its value at the first
        row (so 1 there); 0 elsewhere. Multiply by the profile's ``tp``.
    fp_part : ndarray of float64
        Outside windows: the (negative) scaled sigmoid of the distance past the previous
        window, or -1; 0 inside. Multiply by the profile's ``fp``.
    n_windows : int
        Windows with at least one scorable row (each costs ``fn`` when missed).
    """

    scorable: NDArray[np.bool_]
    window: NDArray[np.int64]
    tp_part: NDArray[np.float64]
    fp_part: NDArray[np.float64]
    n_windows: int


def _ns(value: object) -> int:
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.value)


def timestamps_ns(timestamps: object) -> NDArray[np.int64]:
    """Timestamps (strings, datetimes, DatetimeIndex or int64 ns) as int64 ns, UTC wall time."""
    array = np.asarray(timestamps)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(array))
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.asi8.astype(np.int64)


def sweep_rows(timestamps: object, windows: Sequence[tuple[object, object]]) -> SweepRows:
    """Weights of every row of one file, following NAB's sweep over rows in file order.

    A window opens at the first row (after the previous window closed) whose timestamp
    equals its start, and closes at the first row whose timestamp equals its end.

    Parameters
    ----------
    timestamps : array-like
        The file's timestamps in file order (NAB scores rows in the order given).
    windows : sequence of (start, end)
        Labelled windows in time order, as timestamps.

    Returns
    -------
    SweepRows
    """
    ts = timestamps_ns(timestamps)
    n = ts.size
    window_id = np.full(n, -1, dtype=np.int64)
    unweighted = np.full(n, -1.0)
    inside = np.zeros(n, dtype=bool)
    max_tp = float(scaled_sigmoid(np.array([-1.0]))[0])

    cursor = 0
    for k, (start, end) in enumerate(windows):
        starts = np.flatnonzero(ts[cursor:] == _ns(start))
        ends = np.flatnonzero(ts == _ns(end))
        if not starts.size or not ends.size:
            raise ValueError(
                f"window {k} ({start}, {end}) has no row with its start or end timestamp; "
                "NAB windows must begin and end on timestamps of the file"
            )
        left, right = cursor + int(starts[0]), int(ends[0])
        if right < left:
            raise ValueError(f"window {k} ({start}, {end}) ends before it starts in file order")
        width = right - left + 1
        rows = np.arange(left, right + 1)
        window_id[left : right + 1] = k
        inside[left : right + 1] = True
        unweighted[left : right + 1] = scaled_sigmoid(-(right - rows + 1) / width) / max_tp

        # rows after the window until the next one, weighted by distance past it
        after = np.arange(right + 1, n)
        if width > 1:
            unweighted[right + 1 :] = scaled_sigmoid(np.abs(right - after) / (width - 1))
        else:
            unweighted[right + 1 :] = -1.0
        cursor = right + 1

    scorable = np.arange(n) >= probation_length(n)
    window_id, inside, unweighted = window_id[scorable], inside[scorable], unweighted[scorable]
    return SweepRows(
        scorable=scorable,
        window=window_id,
        tp_part=np.where(inside, unweighted, 0.0),
        fp_part=np.where(inside, 0.0, unweighted),
        n_windows=int(np.unique(window_id[window_id >= 0]).size),
    )


def file_score(
    rows: SweepRows, scores: NDArray[np.float64], threshold: float, profile: CostProfile
) -> float:
    """Raw NAB score of one file: detections are rows with ``score >= threshold``.

    Parameters
    ----------
    rows : SweepRows
        From :func:`sweep_rows` on the same file.
    scores : ndarray of float64
        Anomaly score of every row of the file (probationary rows included).
    threshold : float
        Detection threshold, score units.
    profile : CostProfile

    Returns
    -------
    float
        Sum of the best true-positive weight per detected window, ``-fn`` per missed
        window and the false-positive weights of detections outside windows.
    """
    detected = np.asarray(scores, dtype=float)[rows.scorable] >= threshold
    outside = rows.window < 0
    total = float(np.sum(rows.fp_part[detected & outside])) * profile.fp
    for k in np.unique(rows.window[~outside]):
        hit = detected & (rows.window == k)
        total += profile.tp * float(rows.tp_part[hit].max()) if hit.any() else -profile.fn
    return total


def corpus_score(
    files: Sequence[tuple[SweepRows, NDArray[np.float64]]], threshold: float, profile: CostProfile
) -> float:
    """Raw NAB score summed over files at one threshold."""
    return sum(file_score(rows, scores, threshold, profile) for rows, scores in files)


def optimise_threshold(
    files: Sequence[tuple[SweepRows, NDArray[np.float64]]], profile: CostProfile
) -> tuple[float, float]:
    """Threshold maximising the raw corpus score, by an exact sweep over every score.

    Every distinct score is a candidate threshold (plus "detect nothing", returned as
    ``inf``); ties go to the highest threshold.

    Returns
    -------
    (threshold, raw_score) : tuple of float
    """
    window_parts, score_parts, value_parts, outside_parts = [], [], [], []
    offset = 0
    n_windows = 0
    for rows, scores in files:
        window = np.where(rows.window >= 0, rows.window + offset, -1)
        offset += int(rows.window.max(initial=-1)) + 1
        n_windows += rows.n_windows
        window_parts.append(window)
        score_parts.append(np.asarray(scores, dtype=float)[rows.scorable])
        value_parts.append(rows.tp_part * profile.tp + rows.fp_part * profile.fp)
        outside_parts.append(window < 0)
    baseline = -profile.fn * n_windows
    if not score_parts or not sum(part.size for part in score_parts):
        return math.inf, baseline

    frame = pd.DataFrame(
        {
            "score": np.concatenate(score_parts),
            "window": np.concatenate(window_parts),
            "value": np.concatenate(value_parts),
            "outside": np.concatenate(outside_parts),
        }
    ).sort_values("score", ascending=False, kind="stable", ignore_index=True)

    # a window's contribution rises each time a detection beats its best so far
    delta = frame["value"].to_numpy(copy=True)
    in_window = ~frame["outside"].to_numpy()
    if in_window.any():
        sub = frame.loc[in_window, ["window", "value"]]
        best = sub.groupby("window")["value"].cummax()
        previous = best.groupby(sub["window"]).shift(1).fillna(-profile.fn)
        delta[in_window] = (best - previous).to_numpy()
    totals = baseline + np.cumsum(delta)
    scores_sorted = frame["score"].to_numpy()
    last_of_run = np.append(scores_sorted[1:] != scores_sorted[:-1], True)
    candidates = np.concatenate([[baseline], totals[last_of_run]])
    thresholds = np.concatenate([[math.inf], scores_sorted[last_of_run]])
    best_index = int(np.argmax(candidates))
    return float(thresholds[best_index]), float(candidates[best_index])


def normalise(raw: float, n_windows: int, profile: CostProfile) -> float:
    """Scale a raw corpus score so the null detector scores 0 and the perfect one 100."""
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)
