"""Turn per-point flags into :class:`DetectedAnomaly` events.

An event opens at its first flagged point, stays ``ongoing`` while flags keep coming
at most ``tolerance`` points apart, and closes once ``tolerance`` points pass without
a flag (or at :meth:`EventBuilder.close`). Its ``start`` never changes; ``end``,
``score``, ``severity``, ``kind`` and ``ongoing`` may.

Severity follows one fixed scale of the normalised score, ``config.SEVERITY_SCALE``:
``low`` below 10, ``medium`` from 10, ``high`` from 20, ``critical`` from 40.
Kind follows the shape: ``flatline`` when every value of the event is identical,
``spike`` when the event spans at most ``spike_max_points`` points, its peak value
deviates by at least ``spike_kind_deviation`` robust standard deviations and the
latest value is back within that bound, else ``pattern``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from detection.config import SEVERITY_SCALE
from detection.types import DetectedAnomaly

#: Params key of where an event is most pronounced: the ISO start of its
#: highest-scoring subsequence (detectors that know it set it, see ``flag``).
PEAK_START = "peak_start"

#: Span of an open event, in merge tolerances, beyond which a separate, stronger flag
#: opens a new event (see ``EventBuilder._separate_and_stronger``).
EVENT_SPAN_TOLERANCES = 10


def severity_of(score: float) -> str:
    """Severity of a normalised score on the fixed scale ``SEVERITY_SCALE``."""
    for name, lower in SEVERITY_SCALE:
        if score >= lower:
            return name
    return "low"


def to_timestamp(ts: int) -> pd.Timestamp:
    """Convert ns since the Unix epoch to a UTC ``pandas.Timestamp``."""
    return pd.Timestamp(ts, unit="ns", tz="UTC")


def snapshot(anomaly: DetectedAnomaly) -> DetectedAnomaly:
    """Copy of ``anomaly`` that shares no mutable state with the original."""
    return dataclasses.replace(anomaly, params=dict(anomaly.params))


@dataclass
class _OpenEvent:
    anomaly: DetectedAnomaly
    start_index: int
    last_flag_index: int
    end_index: int
    peak_deviation: float
    last_deviation: float
    all_flat: bool


class EventBuilder:
    """Merge flagged points of one detector into events.

    Parameters
    ----------
    detector : str
        Detector name written into every event.
    tolerance : int
        Flags at most this many points apart belong to one event, points.
    spike_max_points : int
        Longest event (points) that can be a ``spike``.
    spike_threshold : float
        Peak deviation (robust standard deviations) an event needs to be a ``spike``.
    params : dict
        Constant parameters copied into every event (``m``, ``window``).
    """

    def __init__(
        self,
        detector: str,
        tolerance: int,
        spike_max_points: int,
        spike_threshold: float,
        params: dict[str, Any],
    ) -> None:
        self.detector = detector
        self.tolerance = tolerance
        self.spike_max_points = spike_max_points
        self.spike_threshold = spike_threshold
        self.params = params
        self._open: _OpenEvent | None = None
        self._changed: dict[tuple[str, pd.Timestamp], DetectedAnomaly] = {}

    @property
    def is_open(self) -> bool:
        """Whether an event is ongoing."""
        return self._open is not None

    def flag(
        self,
        *,
        index: int,
        start_index: int,
        start_ts: int,
        end_index: int,
        end_ts: int,
        score: float,
        deviation: float,
        baseline_median: float,
        flat: bool = False,
        peak: dict[str, Any] | None = None,
    ) -> None:
        """Record one flagged point.

        Parameters
        ----------
        index : int
            Global index of the flagged point (drives merging and closing).
        start_index, start_ts : int
            Where a new event would start: global index and ns since epoch.
        end_index, end_ts : int
            Where the event ends if this flag is its last: global index and ns.
        score : float
            Normalised score of the point.
        deviation : float
            Deviation of the value from the baseline median, robust standard deviations.
        baseline_median : float
            Median of the window when the event opens, value units.
        flat : bool
            Whether the flagged stretch consists of identical values.
        peak : dict or None
            Parameters that say where the flagged subsequence lies (e.g.
            ``peak_start``); copied into the event's params when this flag's score is
            the event's highest so far.
        """
        current = self._open
        if current is not None and (
            index - current.last_flag_index > self.tolerance
            or self._separate_and_stronger(current, index, score)
        ):
            self.close()
            current = None
        if current is None:
            anomaly = DetectedAnomaly(
                detector=self.detector,
                kind="pattern",
                start=to_timestamp(start_ts),
                end=to_timestamp(max(end_ts, start_ts)),
                score=float(score),
                severity=severity_of(score),
                ongoing=True,
                params={
                    **self.params,
                    "baseline_median": float(baseline_median),
                    "magnitude": abs(float(deviation)),
                    "points": 1,
                },
            )
            current = _OpenEvent(
                anomaly=anomaly,
                start_index=start_index,
                last_flag_index=index,
                end_index=max(end_index, start_index),
                peak_deviation=abs(float(deviation)),
                last_deviation=abs(float(deviation)),
                all_flat=flat,
            )
            self._open = current
            anomaly.params.update(peak or {})
        else:
            anomaly = current.anomaly
            current.last_flag_index = index
            if end_index > current.end_index:
                current.end_index = end_index
                anomaly.end = to_timestamp(end_ts)
            if float(score) > anomaly.score:
                anomaly.score = float(score)
                anomaly.params.update(peak or {})
            anomaly.severity = severity_of(anomaly.score)
            current.peak_deviation = max(current.peak_deviation, abs(float(deviation)))
            current.last_deviation = abs(float(deviation))
            current.all_flat = current.all_flat and flat
        self._refresh(current)

    def _separate_and_stronger(self, current: _OpenEvent, index: int, score: float) -> bool:
        """Whether a flag starts a new event although within the tolerance of the last.

        On a bursty channel flags a few points apart can chain one event over thousands
        of points, and a later, stronger excursion would only raise its score. So once
        an event spans ``EVENT_SPAN_TOLERANCES`` tolerances, a flag after an unflagged
        point that beats the event's score opens a new event. Flags on consecutive
        points (a flatline, a sustained excursion) keep extending the one event.
        """
        span = EVENT_SPAN_TOLERANCES * max(self.tolerance, 1)
        return (
            index - current.start_index > span
            and index - current.last_flag_index > 1
            and float(score) > current.anomaly.score
        )

    def tick(self, index: int, deviation: float | None = None) -> None:
        """Note an unflagged point; close the event ``tolerance`` points after its last flag.

        ``deviation`` (robust standard deviations) of the point tells whether the value
        came back to the baseline, which makes a short extreme event a spike.
        """
        current = self._open
        if current is None:
            return
        if deviation is not None and index > current.last_flag_index:
            if (abs(deviation) < self.spike_threshold) != (
                current.last_deviation < self.spike_threshold
            ):
                current.last_deviation = abs(float(deviation))
                self._refresh(current)
            current.last_deviation = abs(float(deviation))
        if index - current.last_flag_index > self.tolerance:
            self.close()

    def close(self) -> None:
        """Close the open event, if any."""
        current = self._open
        if current is None:
            return
        current.anomaly.ongoing = False
        self._open = None
        self._mark(current.anomaly)

    def drain(self) -> list[DetectedAnomaly]:
        """Copies of the events created or changed since the last drain."""
        changed = [snapshot(a) for a in self._changed.values()]
        self._changed.clear()
        return changed

    def _refresh(self, current: _OpenEvent) -> None:
        anomaly = current.anomaly
        points = current.end_index - current.start_index + 1
        if current.all_flat:
            anomaly.kind = "flatline"
        elif (
            points <= self.spike_max_points
            and current.peak_deviation >= self.spike_threshold
            and current.last_deviation < self.spike_threshold
        ):
            anomaly.kind = "spike"
        else:
            anomaly.kind = "pattern"
        anomaly.params["magnitude"] = current.peak_deviation
        anomaly.params["points"] = points
        self._mark(anomaly)

    def _mark(self, anomaly: DetectedAnomaly) -> None:
        self._changed[(anomaly.detector, anomaly.start)] = anomaly
