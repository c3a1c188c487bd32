"""Merge overlapping events of different detectors of one channel into one anomaly.

A level shift is often seen by several detectors at once (the value limits, the matrix
profile and the change points). The first event reported *owns* the anomaly: a later
event of another detector that overlaps the owner's span (widened by a slack) is
absorbed. It is never reported under its own identity; instead the owner is reported
again with its ``end`` and ``score`` extended, its kind made specific when it was a
mere ``pattern`` and a member's is not, and the contributing detectors and kinds
listed in ``params["detectors"]`` and ``params["kinds"]``; ``params["peak_start"]``
comes from the highest-scoring event that has one. The owner keeps its
``(detector, start)``, so the identity contract holds.

The merger sees events point by point (the channel drains its detectors after every
point), so batch and streaming runs merge identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from detection.events import PEAK_START, severity_of, snapshot
from detection.types import DetectedAnomaly

Key = tuple[str, pd.Timestamp]


@dataclass
class _Owner:
    own: DetectedAnomaly
    end: pd.Timestamp
    score: float
    members: dict[Key, DetectedAnomaly] = field(default_factory=dict)

    @property
    def ongoing(self) -> bool:
        return self.own.ongoing or any(a.ongoing for a in self.members.values())

    def render(self) -> DetectedAnomaly:
        merged = snapshot(self.own)
        merged.end = max(self.own.end, self.end)
        merged.score = max(self.own.score, self.score)
        top = max([self.own, *self.members.values()], key=lambda a: a.score)
        if top is not self.own and PEAK_START in top.params:
            # where the anomaly is most pronounced comes from the member that scored it
            merged.params[PEAK_START] = top.params[PEAK_START]
        merged.severity = severity_of(merged.score)
        merged.ongoing = self.ongoing
        if merged.kind == "pattern":
            # a member that says what happened (level shift, flatline...) names the kind
            specific = [a.kind for a in self.members.values() if a.kind != "pattern"]
            merged.kind = specific[0] if specific else merged.kind
        if self.members:
            merged.params["detectors"] = sorted({self.own.detector, *(k[0] for k in self.members)})
            merged.params["kinds"] = sorted(
                {self.own.kind, *(a.kind for a in self.members.values())}
            )
        return merged


class EventMerger:
    """Cross-detector merging of one channel's events.

    Memory is bounded: owners whose span ended before the channel's window (and that
    have nothing ongoing) are forgotten by :meth:`prune`.
    """

    def __init__(self) -> None:
        self._owners: dict[Key, _Owner] = {}
        self._absorbed: dict[Key, Key] = {}
        self._pending: dict[Key, DetectedAnomaly] = {}

    def add(self, anomaly: DetectedAnomaly, slack_ns: int, lead_ns: int) -> None:
        """Take one created or changed event.

        ``slack_ns`` widens owners' spans, ns. An event that starts more than
        ``lead_ns`` before an owner is not absorbed by it (it found the onset earlier
        than the owner, which cannot move its start) and is reported on its own.
        """
        key = (anomaly.detector, anomaly.start)
        owner_key = self._absorbed.get(key)
        if owner_key is None and key not in self._owners:
            owner_key = self._find_owner(anomaly, slack_ns, lead_ns)
            if owner_key is not None:
                self._absorbed[key] = owner_key
        if owner_key is None:
            owner = self._owners.get(key)
            if owner is None:
                owner = self._owners[key] = _Owner(anomaly, anomaly.end, anomaly.score)
            owner.own = anomaly
            self._pending[key] = owner.render()
            return

        owner = self._owners[owner_key]
        owner.members[key] = anomaly
        owner.end = max(owner.end, anomaly.end)
        owner.score = max(owner.score, anomaly.score)
        self._pending[owner_key] = owner.render()

    def drain(self) -> list[DetectedAnomaly]:
        """The merged anomalies created or changed since the last drain."""
        out = list(self._pending.values())
        self._pending.clear()
        return out

    def prune(self, horizon: pd.Timestamp) -> None:
        """Forget owners that ended before ``horizon`` and have nothing ongoing."""
        stale = [
            k for k, o in self._owners.items() if not o.ongoing and max(o.own.end, o.end) < horizon
        ]
        for k in stale:
            for member in self._owners.pop(k).members:
                self._absorbed.pop(member, None)

    def _find_owner(self, anomaly: DetectedAnomaly, slack_ns: int, lead_ns: int) -> Key | None:
        slack = pd.Timedelta(slack_ns, unit="ns")
        lead = pd.Timedelta(lead_ns, unit="ns")
        for key, owner in self._owners.items():
            if key[0] == anomaly.detector or anomaly.start < owner.own.start - lead:
                continue
            start = owner.own.start - slack
            end = max(owner.own.end, owner.end) + slack
            if anomaly.start <= end and anomaly.end >= start:
                return key
        return None
