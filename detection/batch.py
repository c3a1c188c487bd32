"""Batch detection over a range, through exactly the streaming path."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from detection.config import DetectorConfig
from detection.stream import ChannelDetector, check_points
from detection.types import DetectedAnomaly


def detect_series(
    timestamps: NDArray[np.int64],
    values: NDArray[np.float64],
    config: DetectorConfig | None = None,
    history: tuple[NDArray[np.int64], NDArray[np.float64]] | None = None,
    detectors: Sequence[str] | None = None,
    false_positives: Sequence[Sequence[float]] | None = None,
    reference: NDArray[np.float64] | None = None,
) -> list[DetectedAnomaly]:
    """Detect anomalies in a range; return the final state of each, sorted by start.

    Parameters
    ----------
    timestamps : ndarray of int64
        ns since the epoch (UTC), in time order (older or repeated points are dropped).
    values : ndarray of float64
        Values; NaN/inf are skipped.
    config : DetectorConfig or None
        Tuning constants; None uses the defaults.
    history : (timestamps, values) or None
        Points before the range, used for warm-up only (nothing in them is reported).
    detectors : sequence of str or None
        Detector names; None runs all.
    false_positives : sequence of shapes or None
        Shapes of the channel's known false positives (see ``detection.feedback``).
    reference : ndarray of float64 or None
        Known-normal history of the channel (see ``ChannelDetector.set_reference``).

    Returns
    -------
    list of DetectedAnomaly
        One entry per ``(detector, start)``, closed at the end of the range.
    """
    ts, vs = check_points(timestamps, values)
    detector = ChannelDetector(config, detectors, false_positives)
    if reference is not None:
        detector.set_reference(reference)
    if history is not None:
        if not isinstance(history, tuple) or len(history) != 2:
            raise ValueError(
                f"history must be a (timestamps, values) tuple or None, got "
                f"{type(history).__name__}; pass the preceding points as two arrays"
            )
        detector.warm(*history)

    final: dict[tuple[str, object], DetectedAnomaly] = {}
    for anomaly in [*detector.update(ts, vs), *detector.flush()]:
        final[(anomaly.detector, anomaly.start)] = anomaly
    return sorted(final.values(), key=lambda a: (a.start, a.detector))
