"""The small interface every streaming detector implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detection.config import DetectorConfig
from detection.history import Baseline, History
from detection.types import DetectedAnomaly


class Detector(ABC):
    """One detector of one channel, fed point by point.

    Parameters
    ----------
    config : DetectorConfig
        Tuning constants.
    m : int
        Subsequence length chosen for the channel, points.
    history : History
        The channel's window after warm-up; the detector may read it to initialise.
    """

    name: ClassVar[str]
    #: judges new points against the recent window only; a channel with a reference
    #: (see ``detection.reference``) runs the reference detector instead
    window_referenced: ClassVar[bool] = False

    def __init__(self, config: DetectorConfig, m: int, history: History) -> None:
        self.config = config
        self.m = m

    @abstractmethod
    def step(self, history: History, baseline: Baseline, report: bool) -> None:
        """Take the newest point of ``history`` into account.

        ``report`` is false while warming: update state, open no event.
        """

    def use_reference(self, reference: NDArray[np.float64]) -> None:
        """Take the channel's reference (known-normal history) into account; optional."""
        return None

    def relearn(self, history: History) -> None:
        """Called once, when the window first fills: re-derive warm-up choices; optional."""
        return None

    @abstractmethod
    def flush(self) -> None:
        """Close whatever is ongoing."""

    @abstractmethod
    def drain(self) -> list[DetectedAnomaly]:
        """Events created or changed since the last drain (copies)."""
