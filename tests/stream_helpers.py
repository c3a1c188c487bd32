"""Feed a series to a ChannelDetector point by point, as the worker does."""

from __future__ import annotations

import numpy as np

from detection import ChannelDetector, DetectedAnomaly


def final_anomalies(
    detector: ChannelDetector, stamps: np.ndarray, values: np.ndarray
) -> list[DetectedAnomaly]:
    """Every anomaly in its last reported state (flushed at the end), by detector and start."""
    final: dict[tuple[str, object], DetectedAnomaly] = {}
    for i in range(stamps.size):
        for anomaly in detector.update(stamps[i : i + 1], values[i : i + 1]):
            final[(anomaly.detector, anomaly.start)] = anomaly
    for anomaly in detector.flush():
        final[(anomaly.detector, anomaly.start)] = anomaly
    return list(final.values())
