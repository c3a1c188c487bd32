"""Reference discords: each new subsequence against the channel's known-normal history.

When a channel is given known-normal history (``ChannelDetector.set_reference``: a
train split, or the training range of its model), that history is the *reference*.
Every new subsequence of ``reference_m`` points ending at the newest point is compared
with all subsequences of the reference (an AB-join, one query at a time, see
:mod:`detection.reference_views`). An anomaly in the new data never becomes its own
neighbour, unlike in the left matrix profile.

*Flagging*: the nearest-neighbour distance in the *primary* view is scored against the
reference's own self-join (nearest non-trivial neighbour of each reference
subsequence), ``z = (d - mean) / std``, and flagged from ``reference_sigmas``. The
primary view is z-normalised, except on *discrete* channels (the reference takes at
most ``DISCRETE_SHARE`` times its length distinct values: commanded states, square
waves, flags), where z-normalisation of flat stretches is meaningless and the plain
Euclidean distance is used.

*Scoring*: a flagged point's score says how surprising the new data are in whichever
of these views is most surprising:

- the primary view;
- ``reference_m`` points, plain distance (continuous channels): a new shape *or level*;
- ``reference_short_m`` points, plain distance, the most surprising of those inside the
  flagged subsequence: a short excursion (a spike, a glitch of a few points) that a
  long subsequence dilutes.

Each view's distance is put on one scale by the tail of that view's self-join
(:class:`~detection.reference_views.TailScale`): minus the log of the estimated
probability that a reference subsequence lies that far from its nearest neighbour.
The event records where its most surprising subsequence starts
(``params["peak_start"]``) and in which view (``params["peak_view"]``).
"""

from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np
from numpy.typing import NDArray

from detection.base import Detector
from detection.config import DetectorConfig
from detection.events import PEAK_START, EventBuilder, to_timestamp
from detection.history import Baseline, History
from detection.reference_views import (
    DISCRETE_SHARE,
    ReferenceProfile,
    View,
    fit_view,
    is_discrete,
    self_join,
    spread_floor,
)
from detection.types import DetectedAnomaly

logger = logging.getLogger(__name__)

__all__ = ["DISCRETE_SHARE", "ReferenceDetector", "ReferenceProfile", "is_discrete"]


class ReferenceDetector(Detector):
    """Discords against the channel's reference (see the module docstring).

    The reference comes from :meth:`ChannelDetector.set_reference
    <detection.stream.ChannelDetector.set_reference>`; with fewer than
    ``reference_min`` points (or four subsequences' worth) the detector stays silent.
    Only subsequences made of points scored after the reference are compared. The
    event of a flagged subsequence starts at the subsequence's first point and ends at
    its last; flags less than ``m`` points apart extend one event.
    """

    name = "reference"

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        super().__init__(config, m, history)
        self.views: list[View] = []
        self.short_view: View | None = None
        self._profile: ReferenceProfile | None = None
        self._short_profile: ReferenceProfile | None = None
        #: score and start index of the short view's subsequences inside the newest
        #: long one
        self._recent: deque[tuple[float, int]] = deque()
        self._mean = 0.0
        self._scale = 1.0
        self._scored = 0
        self.ref_m = config.reference_m
        tolerance = config.merge_tolerance if config.merge_tolerance is not None else m
        self.events = EventBuilder(
            self.name,
            tolerance,
            config.spike_max_points,
            config.spike_kind_deviation,
            {"m": config.reference_m, "window": config.window},
        )

    @property
    def active(self) -> bool:
        """Whether a reference was built (the detector scores points)."""
        return self._profile is not None

    def use_reference(self, reference: NDArray[np.float64]) -> None:
        cfg = self.config
        reference = np.asarray(reference, dtype=np.float64)[-cfg.reference_points :]
        m = min(cfg.reference_m, reference.size // 4)
        if reference.size < cfg.reference_min or m < 3:
            logger.info("reference of %d points is too short; not used", reference.size)
            return
        normalize = not is_discrete(reference)
        joined = self_join(reference, m, normalize)
        primary = fit_view(reference, m, normalize, cfg.reference_tail, joined)
        if primary is None:
            return

        self._mean = float(joined.mean())
        self._scale = max(float(joined.std()), spread_floor(reference, m, normalize))
        self.views = [primary]
        if normalize:
            plain = fit_view(reference, m, False, cfg.reference_tail)
            self.views += [plain] if plain is not None else []
        short_m = cfg.reference_short_m
        if 3 <= short_m < m:
            self.short_view = fit_view(reference, short_m, False, cfg.reference_tail)
            self._short_profile = ReferenceProfile(reference, short_m, normalize=False)
        self.ref_m = m
        self._recent = deque(maxlen=m - short_m + 1)
        self.events.tolerance = max(self.events.tolerance, m)
        self._profile = ReferenceProfile(reference, m, normalize)
        views = [*self.views, *([self.short_view] if self.short_view else [])]
        self.events.params.update({"m": m, "normalized": normalize})
        logger.info(
            "reference of %d points, m=%d, %s distance, self-join %.3f +- %.3f; views %s",
            reference.size,
            m,
            "z-normalised" if normalize else "plain",
            self._mean,
            self._scale,
            ", ".join(f"{v.label} tail {v.tail.start:.3g} + {v.tail.scale:.3g}" for v in views),
        )

    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        if not report or self._profile is None:
            return
        index = history.last_index
        value = float(history.values[-1])
        deviation = (value - baseline.median) / baseline.scale
        self.events.tick(index, deviation)
        self._scored += 1
        if self.short_view is not None and self._short_profile is not None:
            short_m = self.short_view.m
            if self._scored >= short_m:
                plain, _ = self._short_profile.distances(history.values[-short_m:])
                self._recent.append((self.short_view.tail.score(plain), index - short_m + 1))
        m = self.ref_m
        if self._scored < m:
            # a subsequence reaching into the reference itself is not new data
            return

        plain, normalised = self._profile.distances(history.values[-m:])
        primary = self.views[0]
        z = ((normalised if primary.normalize else plain) - self._mean) / self._scale
        if not z >= self.config.reference_sigmas:
            return
        start_index = index - m + 1
        score, peak_index, peak_view = self._surprise(plain, normalised, start_index)
        self.events.flag(
            index=index,
            start_index=start_index,
            start_ts=history.ts_at(start_index),
            end_index=index,
            end_ts=history.ts_at(index),
            score=score,
            deviation=deviation,
            baseline_median=baseline.median,
            flat=bool(np.ptp(history.values[-m:]) == 0),
            peak={
                PEAK_START: to_timestamp(history.ts_at(peak_index)).isoformat(),
                "peak_view": peak_view,
            },
        )

    def _surprise(self, plain: float, normalised: float, start: int) -> tuple[float, int, str]:
        """Score, start index and view of the most surprising view of a flagged point."""
        best = (-math.inf, start, self.views[0].label)
        for view in self.views:
            score = view.tail.score(normalised if view.normalize else plain)
            if score > best[0]:
                best = (score, start, view.label)
        if self.short_view is not None and self._recent:
            score, short_start = max(self._recent)
            if score > best[0]:
                best = (score, short_start, self.short_view.label)
        return best

    def flush(self) -> None:
        self.events.close()

    def drain(self) -> list[DetectedAnomaly]:
        return self.events.drain()
