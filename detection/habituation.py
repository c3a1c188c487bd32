"""Habituation: an anomaly no stronger than a channel's usual ones scores lower.

A channel that keeps raising anomalies of about the same strength (a bursty traffic
counter, a noisy sensor) says less with each one; an operator learns to ignore them,
and one threshold over all channels either floods the quiet ones' operators or misses
the noisy ones' real faults. So every anomaly is judged against the channel's own
recent anomalies as well as against its data: when it is first reported, the
``habituation_quantile`` quantile of the raw scores of the channel's last
``habituation_memory`` anomalies (at least ``habituation_min`` of them) is its
*typical score*. An anomaly whose raw score ``s`` is below the typical score ``t`` is
reported with ``s * (s / t) ** habituation_power``; a stronger one keeps its score.
The typical score is fixed at first report; the factor follows the anomaly's raw score
while it grows. The first anomalies of a channel are never discounted.

Operator feedback (:mod:`detection.feedback`) discounts what an operator marked;
habituation needs no operator and forgets: a channel that calms down scores its next
anomaly at full strength again once its memory has turned over.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from detection.config import DetectorConfig


class Habituation:
    """Typical anomaly score of one channel and the discount it implies.

    Memory: ``habituation_memory`` raw scores per detector.

    Parameters
    ----------
    config : DetectorConfig
        ``habituation_*`` settings.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        #: per detector: raw score of each recent anomaly, oldest first
        self._recent: dict[str, OrderedDict[Hashable, float]] = {}

    def typical(self, detector: str, key: Hashable) -> float | None:
        """Typical score of the detector's recent anomalies other than ``key``.

        None while fewer than ``habituation_min`` of them exist.
        """
        recent = self._recent.get(detector)
        scores = [] if recent is None else [s for k, s in recent.items() if k != key]
        if len(scores) < self.config.habituation_min:
            return None
        return float(np.quantile(scores, self.config.habituation_quantile))

    def observe(self, detector: str, key: Hashable, raw_score: float) -> None:
        """Record (or update) the raw score of an anomaly; forget the oldest beyond memory."""
        recent = self._recent.setdefault(detector, OrderedDict())
        recent[key] = float(raw_score)
        while len(recent) > self.config.habituation_memory:
            recent.popitem(last=False)

    def factor(self, raw_score: float, typical: float | None) -> float:
        """Score factor in ``(0, 1]`` for a raw score against a typical score."""
        if typical is None or typical <= 0 or raw_score >= typical:
            return 1.0
        ratio = max(raw_score, 0.0) / typical
        return float(ratio**self.config.habituation_power)
