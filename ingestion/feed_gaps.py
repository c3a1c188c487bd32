"""Quiet feeds: a series that stops arriving becomes an open `gap` anomaly, on the clock.

The detectors see a gap only when data returns. The worker also needs to say, while it
is happening, that a feed went quiet: after each poll it compares its own clock with the
newest point of every series of the source. When the silence is longer than
``factor`` times the channel's median cadence plus the source's poll interval, an open
(``ongoing``) anomaly of kind ``gap`` is stored through the pipeline, so incidents and
messages follow; when data returns it is closed at the first new point.

The anomaly uses the detector name ``gap`` and starts at the last point before the
silence, which is the identity the gap detector gives the same gap once data is back:
both write one record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from detection import DetectedAnomaly
from detection.events import severity_of
from ingestion.pipeline import Pipeline
from store import queries
from store.models import Channel, Satellite

logger = logging.getLogger(__name__)

#: points of a channel whose time deltas give its median cadence
CADENCE_POINTS = 64
#: detector name of the open gaps, shared with the gap detector so both write one record
GAP_DETECTOR = "gap"


@dataclass
class OpenGap:
    """A feed that is quiet now: the channel and the last point before the silence."""

    channel_id: int
    start: datetime
    cadence_s: float


class FeedGapWatch:
    """Opens and closes `gap` anomalies of quiet feeds, per (source, channel).

    Parameters
    ----------
    pipeline : Pipeline
        Stores the anomalies (and so feeds incidents, messages and the index).
    factor : float
        A feed is quiet when nothing arrived for ``factor`` median cadences plus the
        poll interval (seconds, given to :meth:`check`).
    clock : callable
        The worker's clock; tests pass a fake one.
    """

    def __init__(self, pipeline: Pipeline, factor: float, clock: Callable[[], datetime]) -> None:
        if factor <= 0:
            raise ValueError(f"factor must be > 0 cadences, got {factor!r}")
        self.pipeline = pipeline
        self.factor = factor
        self.clock = clock
        self.open: dict[tuple[str, str], OpenGap] = {}
        #: gaps opened since start, counted in the source's anomalies by the worker
        self.opened = 0

    def check(
        self, source: str, last_points: Mapping[str, datetime], interval_s: float
    ) -> list[DetectedAnomaly]:
        """Open, extend or close the gaps of `source`'s series (`satellite/channel` → last ts)."""
        now = self.clock()
        changed: list[DetectedAnomaly] = []
        for key, last_ts in sorted(last_points.items()):
            found = self._evaluate(source, key, last_ts, now, interval_s)
            if found is not None:
                changed.append(found)
        return changed

    def _evaluate(
        self, source: str, key: str, last_ts: datetime, now: datetime, interval_s: float
    ) -> DetectedAnomaly | None:
        current = self.open.get((source, key))
        # data came back after the silence: close at the first point after its start
        if current is not None and last_ts > current.start:
            del self.open[(source, key)]
            first = self._first_after(current.channel_id, current.start) or last_ts
            return self._store(current, first, ongoing=False)

        satellite, _, channel = key.partition("/")
        if current is None:
            with Session(self.pipeline.engine) as session:
                channel_id = _channel_id(session, self.pipeline.tenant, satellite, channel)
                if channel_id is None:
                    return None
                cadence_s = _median_cadence_s(session, channel_id)
            if cadence_s is None:
                return None
            current = OpenGap(channel_id, last_ts, cadence_s)
        quiet_s = (now - last_ts).total_seconds()
        if quiet_s <= self.factor * current.cadence_s + interval_s:
            return None
        if (source, key) not in self.open:
            self.opened += 1
            logger.warning(
                "feed %s %s quiet for %.0f s (median cadence %.1f s): gap opened",
                source,
                key,
                quiet_s,
                current.cadence_s,
            )
        self.open[(source, key)] = current
        return self._store(current, now, ongoing=True)

    def _first_after(self, channel_id: int, start: datetime) -> datetime | None:
        with Session(self.pipeline.engine) as session:
            after = queries.channel_points(session, channel_id, start=start, limit=2)
        after = after[after["ts"] > pd.Timestamp(start)]
        return after["ts"].iloc[0].to_pydatetime() if len(after) else None

    def _store(self, gap: OpenGap, end: datetime, *, ongoing: bool) -> DetectedAnomaly:
        ratio = (end - gap.start).total_seconds() / gap.cadence_s
        anomaly = DetectedAnomaly(
            detector=GAP_DETECTOR,
            kind="gap",
            start=pd.Timestamp(gap.start),
            end=pd.Timestamp(end),
            score=float(ratio),
            severity=severity_of(float(ratio)),
            ongoing=ongoing,
            params={
                "cadence_s": gap.cadence_s,
                "gap_s": (end - gap.start).total_seconds(),
                "magnitude": float(ratio),
                "evaluated_on": "worker clock",
            },
        )
        self.pipeline.store_detected(gap.channel_id, [anomaly])
        if not ongoing:
            logger.info("feed of channel %d is back at %s: gap closed", gap.channel_id, end)
        return anomaly


def _channel_id(session: Session, tenant: str, satellite: str, channel: str) -> int | None:
    return session.scalars(
        select(col(Channel.id))
        .join(Satellite, col(Satellite.id) == col(Channel.satellite_id))
        .where(col(Satellite.tenant) == tenant, col(Satellite.name) == satellite)
        .where(col(Channel.name) == channel)
    ).first()


def _median_cadence_s(session: Session, channel_id: int) -> float | None:
    recent = queries.channel_points(session, channel_id, limit=CADENCE_POINTS, latest=True)
    if len(recent) < 3:
        return None
    deltas = np.diff(recent["ts"].to_numpy("datetime64[ns]").view("int64")) / 1e9
    cadence = float(np.median(deltas))
    return cadence if cadence > 0 else None
