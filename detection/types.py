"""Records exchanged between the detectors and their callers.

Detection works on plain numpy arrays: timestamps are ``int64`` nanoseconds since the
Unix epoch (UTC), values are ``float64``. Results carry ``pandas.Timestamp`` in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

Kind = Literal[
    "spike",
    "level_shift",
    "variance_change",
    "trend_change",
    "flatline",
    "gap",
    "pattern",
]
Severity = Literal["low", "medium", "high", "critical"]

KINDS: tuple[str, ...] = (
    "spike",
    "level_shift",
    "variance_change",
    "trend_change",
    "flatline",
    "gap",
    "pattern",
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


@dataclass
class DetectedAnomaly:
    """One anomaly as a detector sees it.

    ``(detector, start)`` identifies the anomaly within its channel: ``start`` never
    changes once the anomaly was first reported, while ``end``, ``score``, ``severity``
    and ``ongoing`` may grow as more points arrive.
    """

    detector: str
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    score: float
    severity: str
    ongoing: bool = False
    params: dict[str, Any] = field(default_factory=dict)
