"""Detectors by name."""

from __future__ import annotations

from detection.base import Detector
from detection.changepoint import ChangePointDetector
from detection.flatline import FlatlineDetector
from detection.gaps import GapDetector
from detection.limits import LimitsDetector
from detection.matrix_profile import MatrixProfileDetector
from detection.reference import ReferenceDetector

DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        MatrixProfileDetector,
        ReferenceDetector,
        ChangePointDetector,
        LimitsDetector,
        GapDetector,
        FlatlineDetector,
    )
}


def get_detector(name: str) -> type[Detector]:
    """The detector class registered under ``name``."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}") from None
