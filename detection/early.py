"""Change points of a channel's first points (short series).

Before ``warmup`` points exist the window detectors do not run, and a series shorter
than the warm-up (a yearly statistic, a short test) would otherwise never be judged;
the window change-point detector also needs segments of ``cp_min_size`` points and
searches only its last ``cp_window`` points on a grid. From ``cp_early_min`` points on,
until ``cp_early_until`` points have been seen, exact binary segmentation with the
Gaussian cost (:func:`detection.changepoint.find_breakpoints`, every position a
candidate) searches *all* the points seen so far, so the test grows with the data. It
runs every ``cp_early_every`` points, and less often as the history grows: every
``count * EARLY_CADENCE_SHARE`` points once that is more, so a search over ``count``
points costs ``O(1 / EARLY_CADENCE_SHARE)`` point-searches per new point on average
(a search over 1000 points takes about a millisecond). The penalty is
``cp_early_penalty * log(n)`` per breakpoint (BIC-like) on data in units of the noise
level (MAD of first differences). A breakpoint is reported once it is *confirmed*: it
has been found, within ``EARLY_TOLERANCE`` points of the same place, by every search
over the last ``cp_early_persist`` points, and at least ``cp_early_min_size`` points
follow it. Breakpoints that come and go as data arrive are never confirmed, and a
breakpoint that one parabola through both of its segments explains as well as two
levels (a trend, or part of a slow cycle, cut into steps) is not reported. A
breakpoint after the first ``warmup`` points must also be novel, as for the window
detector (:func:`detection.changepoint.visited_before`: no older stretch already had the
new segment's level, noise or slope); before that there is too little history to tell.
Nothing looks ahead: a search uses only points already received. After
``cp_early_until`` points the window change-point detector takes over the later
breakpoints. At the end of a batch (``ChannelDetector.flush``) of a series still
shorter than that, a last search reports the breakpoints that were not confirmed yet,
since no later point can contradict them (:meth:`EarlyChangePoints.finish`); the live
worker's streaming path never flushes (its re-check of a stored range, through
``detect_series``, does).
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from detection.changepoint import classify, find_breakpoints, noise_level, visited_before
from detection.config import DetectorConfig
from detection.events import severity_of, to_timestamp
from detection.history import History
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)

#: Distance within which a breakpoint of a later search is the same candidate, points.
EARLY_TOLERANCE = 2

#: Share of the points seen between two searches once it exceeds ``cp_early_every``,
#: fraction (0.005: a search every 5 points at 1000 points).
EARLY_CADENCE_SHARE = 0.005

#: Name under which early change points are reported (the change-point detector's).
DETECTOR_NAME = "changepoint"


def _rss_parabola(values: NDArray[np.float64]) -> float:
    x = np.arange(values.size, dtype=np.float64)
    coefficients = np.polyfit(x, values, 2)
    return float(np.sum((values - np.polyval(coefficients, x)) ** 2))


def explained_by_trend(left: NDArray[np.float64], right: NDArray[np.float64]) -> bool:
    """Whether one parabola through both segments fits them as well as two levels.

    Binary segmentation with constant segments cuts a steady or bending trend (or a
    slow cycle seen over less than a period) into steps; such a cut is no change.
    """
    both = np.concatenate((left, right))
    step = float(np.sum((left - left.mean()) ** 2) + np.sum((right - right.mean()) ** 2))
    return _rss_parabola(both) <= step


class EarlyChangePoints:
    """Confirmed change points over a channel's first ``cp_early_until`` points.

    Memory: the candidates of the last search and the reported breakpoints, a few
    integers each (at most ``cp_early_until / cp_early_min_size`` of them); the search
    reads the channel's history, at most ``min(cp_early_until, window)`` points.

    Parameters
    ----------
    config : DetectorConfig
        ``cp_early_*`` settings, ``cp_noise_floor`` and ``cp_min_effect``.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        #: global index of a candidate breakpoint -> count at its first sighting
        self._candidates: dict[int, int] = {}
        #: global indices of confirmed breakpoints (reported or, while warming, not)
        self.confirmed: list[int] = []
        self._changed: list[DetectedAnomaly] = []
        self._since = 0
        #: whether the newest point was fed to be reported (``update``, not ``warm``)
        self._reporting = False

    def step(self, history: History, report: bool) -> None:
        """Take the newest point into account; search every ``cp_early_every`` points."""
        cfg = self.config
        self._reporting = report
        if history.size < cfg.cp_early_min:
            return
        self._since += 1
        if self._since < max(cfg.cp_early_every, int(history.count * EARLY_CADENCE_SHARE)):
            return
        self._since = 0
        values = history.values
        offset = history.count - history.size  # global index of values[0]
        bkps = self._search(values)
        now = history.count
        candidates: dict[int, int] = {}
        for b in bkps:
            index = offset + b
            close = [c for c in self._candidates if abs(c - index) <= EARLY_TOLERANCE]
            candidates[index] = min((self._candidates[c] for c in close), default=now)
        self._candidates = candidates
        for k, b in enumerate(bkps):
            if now - candidates[offset + b] < cfg.cp_early_persist:
                continue
            if values.size - b < cfg.cp_early_min_size:
                continue
            self._confirm(history, bkps, k, report)

    def finish(self, history: History) -> None:
        """End of the data (a batch's flush): report what a last search over it finds.

        No later point can move or remove these breakpoints any more, so they are not
        held back for ``cp_early_persist`` points; the trend check and the
        ``cp_early_min_size`` points on either side still apply, and breakpoints
        already confirmed are not reported again. Nothing is reported when the newest
        points were only warm-up (``ChannelDetector.warm``).
        """
        if not self._reporting or history.size < self.config.cp_early_min:
            return
        bkps = self._search(history.values)
        for k in range(len(bkps)):
            self._confirm(history, bkps, k, report=True)

    def _confirm(self, history: History, bkps: list[int], k: int, report: bool) -> None:
        """Confirm breakpoint ``bkps[k]`` of a search over the history, and report it.

        A breakpoint within ``cp_early_min_size`` points of one already confirmed is the
        same one and is skipped. Its segments are the stretches to the neighbouring
        breakpoints of the same search.
        """
        values = history.values
        index = history.count - history.size + bkps[k]
        if any(abs(index - seen) < self.config.cp_early_min_size for seen in self.confirmed):
            return
        self.confirmed.append(index)
        if not report:
            return
        bounds = [0, *bkps, values.size]
        begin, b, end = bounds[k], bounds[k + 1], bounds[k + 2]
        self._report(history, index, values[begin:b], values[b:end], values[:begin])

    def _search(self, values: NDArray[np.float64]) -> list[int]:
        cfg = self.config
        return find_breakpoints(
            values, cfg.cp_early_min_size, 1, cfg.cp_early_penalty, cfg.cp_noise_floor
        )

    def _report(
        self,
        history: History,
        index: int,
        left: NDArray[np.float64],
        right: NDArray[np.float64],
        past: NDArray[np.float64],
    ) -> None:
        noise = max(noise_level(left), 1e-12)
        level = abs(float(np.median(right) - np.median(left))) / noise
        if explained_by_trend(left, right):
            logger.debug("early breakpoint at index %d lies on a trend; skipped", index)
            return
        verdict = classify(left, right, self.config)
        kind, score = verdict if verdict is not None else ("level_shift", level)
        if index >= self.config.warmup and visited_before(past, left, right, kind):
            logger.debug("early change at index %d (%s) already visited before", index, kind)
            return
        anomaly = DetectedAnomaly(
            detector=DETECTOR_NAME,
            kind=kind,
            start=to_timestamp(history.ts_at(index)),
            end=to_timestamp(history.ts_at(history.last_index)),
            score=float(score),
            severity=severity_of(float(score)),
            ongoing=False,
            params={
                "mode": "early",
                "m": self.config.cp_early_min_size,
                "window": history.size,
                "baseline_median": float(np.median(left)),
                "points_seen": history.count,
                "magnitude": level,
                "level_before": float(np.median(left)),
                "level_after": float(np.median(right)),
                "noise_before": noise_level(left),
                "noise_after": noise_level(right),
            },
        )
        logger.debug("early change point at index %d (%s, %.1f)", index, kind, score)
        self._changed.append(anomaly)

    def drain(self) -> list[DetectedAnomaly]:
        """Change points confirmed since the last drain."""
        out, self._changed = self._changed, []
        return out
