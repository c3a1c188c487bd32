"""Streaming detection of one channel: history window, warm-up, detectors, events."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from detection.base import Detector
from detection.changepoint import ChangePointDetector
from detection.config import DetectorConfig
from detection.early import EarlyChangePoints
from detection.events import severity_of, to_timestamp
from detection.feedback import FeedbackFilter, shape_of
from detection.habituation import Habituation
from detection.history import Baseline, History
from detection.matrix_profile import choose_m
from detection.merge import EventMerger
from detection.reference import ReferenceDetector
from detection.registry import DETECTORS, get_detector
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)

#: Anomalies whose shape and feedback factor are remembered (the newest), anomalies.
SHAPE_CACHE = 1024

#: What is fixed when an anomaly is first reported: its shape, the feedback factor, the
#: distance to the nearest false positive, and the channel's typical score then.
_FixedAtReport = tuple[list[float] | None, float, float, float | None]


def check_points(
    timestamps: NDArray[np.int64], values: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Validate and convert a batch of points; raise ValueError naming the problem."""
    ts = np.asarray(timestamps)
    vs = np.asarray(values)
    if ts.ndim != 1 or vs.ndim != 1:
        raise ValueError(
            f"timestamps and values must be 1-D arrays, got shapes {ts.shape} and "
            f"{vs.shape}; pass one channel as two flat arrays"
        )
    if ts.size != vs.size:
        raise ValueError(
            f"timestamps has {ts.size} points but values has {vs.size}; pass arrays of "
            "equal length"
        )
    if ts.size and not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(
            f"timestamps must be int64 ns since the epoch (UTC), got dtype {ts.dtype}; "
            "convert with pandas.DatetimeIndex(...).asi8"
        )
    if vs.size and not np.issubdtype(vs.dtype, np.number):
        raise ValueError(f"values must be numeric, got dtype {vs.dtype}; convert to float64 first")
    return ts.astype(np.int64, copy=False), vs.astype(np.float64, copy=False)


class ChannelDetector:
    """All detectors of one channel, fed in time order.

    After every point the detectors' new or changed events go through an
    :class:`~detection.merge.EventMerger`, so overlapping events of different detectors
    come back as one anomaly under the detector that reported it first.

    Memory per channel is bounded by the configuration: the history ring buffer
    (``window`` timestamps and values, 16 bytes each), ``stumpy.stumpi``'s arrays over
    the same window (a few arrays of ``window`` float64), ``mp_history`` recent
    matrix-profile values, a few statistics per detector (the limits detector
    recomputes its seasonal residuals from the window), the change-point detector's
    examined breakpoints inside the window, the early change-point search's candidates
    over the first ``cp_early_until`` points (a few integers, see
    :mod:`detection.early`), and the merger's events that still overlap the window:
    about 0.3 MB at the defaults. A reference (:meth:`set_reference`) adds
    its values, eight arrays of the same length (two subsequence lengths) and one FFT of
    twice that length at most: about 1.5 MB for the largest one kept
    (``reference_points``, 20,000 points; measured with tracemalloc).

    Parameters
    ----------
    config : DetectorConfig or None
        Tuning constants; None uses the defaults.
    detectors : sequence of str or None
        Names from ``DETECTORS``; None runs all of them.
    false_positives : sequence of shapes or None
        ``params["shape"]`` of the channel's anomalies marked ``false_positive``:
        similar anomalies score lower (see :mod:`detection.feedback`).

    Attributes
    ----------
    m : int or None
        Subsequence length, chosen at the end of the warm-up.
    dropped_out_of_order : int
        Points not newer than the last accepted point (duplicates included).
    skipped_nonfinite : int
        Points whose value was NaN or infinite.
    """

    def __init__(
        self,
        config: DetectorConfig | None = None,
        detectors: Sequence[str] | None = None,
        false_positives: Sequence[Sequence[float]] | None = None,
    ) -> None:
        if config is not None and not isinstance(config, DetectorConfig):
            raise ValueError(
                f"config must be a DetectorConfig or None, got {type(config).__name__}; "
                "build one with DetectorConfig(...)"
            )
        self.config = config or DetectorConfig()
        names = list(DETECTORS) if detectors is None else list(detectors)
        self._classes = [get_detector(name) for name in names]
        self.history = History(self.config.window)
        self.detectors: list[Detector] = []
        #: change points of a channel's first ``cp_early_until`` points (short series),
        #: None once that is over
        self._early = EarlyChangePoints(self.config) if "changepoint" in names else None
        self.m: int | None = None
        self.dropped_out_of_order = 0
        self.skipped_nonfinite = 0
        self._last_ts: int | None = None
        self._baseline: Baseline | None = None
        self._since_stats = 0
        self._scoring = False
        self._relearned = False
        #: known-normal history (see set_reference), None without one
        self.reference: NDArray[np.float64] | None = None
        self._merger = EventMerger()
        self.feedback = FeedbackFilter(false_positives or ())
        self.habituation = Habituation(self.config)
        #: per anomaly: shape, feedback factor, distance to a false positive, typical score
        self._shapes: OrderedDict[tuple[str, int], _FixedAtReport] = OrderedDict()

    def set_false_positives(self, shapes: Sequence[Sequence[float]]) -> None:
        """Replace the known false-positive shapes (anomalies already reported keep theirs)."""
        self.feedback = FeedbackFilter(shapes)

    @property
    def last_timestamp_ns(self) -> int | None:
        """Timestamp of the newest accepted point, ns since the epoch; None before any."""
        return self._last_ts

    @property
    def ready(self) -> bool:
        """Whether the warm-up is over and points are scored."""
        return bool(self.detectors)

    def update(
        self, timestamps: NDArray[np.int64], values: NDArray[np.float64]
    ) -> list[DetectedAnomaly]:
        """Feed points in time order; return every anomaly created or changed (copies)."""
        ts, vs = check_points(timestamps, values)
        self._feed(ts, vs, report=True)
        return self._drain()

    def warm(self, timestamps: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        """Preload history (e.g. after a restart) without reporting anything."""
        ts, vs = check_points(timestamps, values)
        self._feed(ts, vs, report=False)
        self._drain()

    def flush(self) -> list[DetectedAnomaly]:
        """Close whatever is ongoing (end of a batch); return the closed anomalies.

        A channel still in its early change-point span also reports the breakpoints
        of a last search over all its points (see ``EarlyChangePoints.finish``).
        """
        if self._early is not None:
            self._early.finish(self.history)
        for detector in self.detectors:
            detector.flush()
        self._collect()
        return self._drain()

    def _feed(self, ts: NDArray[np.int64], vs: NDArray[np.float64], report: bool) -> None:
        finite = np.isfinite(vs)
        skipped = int(ts.size - np.count_nonzero(finite))
        if skipped:
            self.skipped_nonfinite += skipped
            logger.info("skipped %d non-finite values", skipped)
        dropped = 0
        for t, v in zip(ts[finite].tolist(), vs[finite].tolist(), strict=True):
            if self._last_ts is not None and t <= self._last_ts:
                dropped += 1
                continue
            self._last_ts = t
            self._step(t, v, report)
        if dropped:
            self.dropped_out_of_order += dropped
            logger.info("dropped %d points not newer than the last one", dropped)

    def _step(self, ts: int, value: float, report: bool) -> None:
        history = self.history
        cfg = self.config
        history.append(ts, value)
        if self._early is not None:
            self._early.step(history, report)
            if history.count >= cfg.cp_early_until:
                self._end_early()
        if not self.detectors:
            self._collect()
            if history.size >= cfg.warmup:
                self._start()
            return
        if report and not self._scoring:
            self._begin_scoring()

        self._since_stats += 1
        if self._baseline is None or self._since_stats >= cfg.stats_every:
            self._baseline = history.baseline(cfg.value_scale_floor)
            self._since_stats = 0
            self._merger.prune(to_timestamp(int(history.timestamps[0])))
        if history.size == history.capacity and not self._relearned:
            self._relearn()
        for detector in self.detectors:
            detector.step(history, self._baseline, report)
        self._collect()

    def _collect(self) -> None:
        """Hand the detectors' new or changed events to the merger."""
        changed: list[DetectedAnomaly] = [] if self._early is None else self._early.drain()
        for detector in self.detectors:
            changed.extend(detector.drain())
        if not changed:
            return
        changed.sort(key=lambda a: a.start)
        cadence = self._baseline.cadence if self._baseline else 0.0
        slack = int((self.m or 1) * cadence)
        lead = int(self.config.merge_lead_points * cadence)
        for anomaly in changed:
            self._merger.add(anomaly, slack, lead)

    def _start(self) -> None:
        values = self.history.values
        self.m = choose_m(values, self.config)
        self.detectors = [cls(self.config, self.m, self.history) for cls in self._classes]
        if self._early is not None:
            for detector in self.detectors:
                if isinstance(detector, ChangePointDetector):
                    detector.defer_until(self.config.cp_early_until)
        self._baseline = self.history.baseline(self.config.value_scale_floor)
        logger.info("warm-up done after %d points; m=%d", self.history.size, self.m)

    def _relearn(self) -> None:
        """Once the window is full: let the detectors re-derive what the warm-up chose.

        A period longer than half the warm-up (a daily cycle sampled every five
        minutes) only shows in the full window.
        """
        self._relearned = True
        for detector in self.detectors:
            detector.relearn(self.history)
        self._collect()

    def _end_early(self) -> None:
        """Hand the early change points over and stop the early search."""
        self._collect()
        self._early = None

    def set_reference(self, values: NDArray[np.float64]) -> None:
        """Known-normal history of the channel (e.g. a train split), before any update.

        Its newest ``reference_points`` finite values are kept. At the first scored
        point the reference detector builds on it and, when it can, replaces the
        detectors that judge against the recent window only; the flatline detector
        learns how long the channel normally stays still from it.
        """
        if self._scoring:
            raise ValueError(
                "set_reference must come before the first update; build a new "
                "ChannelDetector to change the reference"
            )
        vs = np.asarray(values, dtype=np.float64)
        if vs.ndim != 1:
            raise ValueError(f"reference must be a 1-D array, got shape {vs.shape}")
        self.reference = vs[np.isfinite(vs)][-self.config.reference_points :].copy()

    def _begin_scoring(self) -> None:
        """At the first reported point: hand the reference over, retire what it replaces."""
        self._scoring = True
        if self.reference is None:
            return
        for detector in self.detectors:
            detector.use_reference(self.reference)
        references = [d for d in self.detectors if isinstance(d, ReferenceDetector)]
        if any(d.active for d in references):
            retired = [d.name for d in self.detectors if d.window_referenced]
            if self._early is not None:
                self._end_early()
            self.detectors = [d for d in self.detectors if not d.window_referenced]
            logger.info("reference in use; retired %s", retired)

    def _drain(self) -> list[DetectedAnomaly]:
        self._collect()
        out = self._merger.drain()
        for anomaly in out:
            self._apply_feedback(anomaly)
        out.sort(key=lambda a: (a.start, a.detector))
        return out

    def _apply_feedback(self, anomaly: DetectedAnomaly) -> None:
        """Attach the anomaly's shape; discount it for feedback and for habituation.

        Shape, feedback factor and the channel's typical score are fixed when the
        anomaly is first reported; the habituation factor follows its raw score.
        """
        key = (anomaly.detector, int(anomaly.start.value))
        raw = float(anomaly.score)
        cached = self._shapes.get(key)
        if cached is None:
            shape = self._shape_at(int(anomaly.start.value))
            factor, distance = 1.0, math.inf
            if shape is not None:
                factor, distance = self.feedback.factor(shape)
            typical = self.habituation.typical(anomaly.detector, key)
            cached = self._shapes[key] = (shape, factor, distance, typical)
            while len(self._shapes) > SHAPE_CACHE:
                self._shapes.popitem(last=False)
        shape, factor, distance, typical = cached
        self.habituation.observe(anomaly.detector, key, raw)
        usual = self.habituation.factor(raw, typical)
        if shape is not None:
            anomaly.params["shape"] = shape
        if factor < 1.0:
            anomaly.params["feedback"] = {
                "similar_false_positive": round(distance, 4),
                "discount": factor,
            }
        if usual < 1.0 and typical is not None:
            anomaly.params["habituation"] = {
                "typical_score": round(typical, 4),
                "raw_score": round(raw, 4),
                "discount": round(usual, 6),
            }
        if factor * usual < 1.0:
            anomaly.score = raw * factor * usual
            anomaly.severity = severity_of(anomaly.score)

    def _shape_at(self, start_ns: int) -> list[float] | None:
        """Shape of the ``m`` points ending at ``start_ns``; None outside the window."""
        history = self.history
        stamps = history.timestamps
        end = int(np.searchsorted(stamps, start_ns, side="right"))
        if end == 0 or int(stamps[end - 1]) != start_ns:
            return None
        values = history.values[max(end - (self.m or 2), 0) : end]
        return shape_of(values) if values.size >= 2 else None
