"""Pure anomaly detection on telemetry: matrix profile, change points, limits, events.

Works on numpy arrays (timestamps int64 ns since epoch UTC, values float64); touches
no database, network or clock.
"""

from detection.batch import detect_series
from detection.config import SEVERITY_SCALE, DetectorConfig
from detection.matrix_profile import (
    dominant_period,
    enable_compile_cache,
    left_matrix_profile,
)
from detection.registry import DETECTORS, get_detector
from detection.stream import ChannelDetector
from detection.types import KINDS, SEVERITIES, DetectedAnomaly

__all__ = [
    "DETECTORS",
    "KINDS",
    "SEVERITIES",
    "SEVERITY_SCALE",
    "ChannelDetector",
    "DetectedAnomaly",
    "DetectorConfig",
    "detect_series",
    "dominant_period",
    "enable_compile_cache",
    "get_detector",
    "left_matrix_profile",
]
