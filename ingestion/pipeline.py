"""From points to stored anomalies: write, detect, upsert, index.

The same `Pipeline` serves `imon ingest`, HTTP pushes and the background worker, so a
file ingested by hand and the same data arriving live give the same anomalies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from detection import ChannelDetector, DetectedAnomaly, DetectorConfig, detect_series
from ingestion.incidents import IncidentTracker
from store import queries, repository
from store.models import Channel
from store.queries import AnomalyView
from store.repository import AnomalyWrite

logger = logging.getLogger(__name__)

RECHECK_MARGIN_POINTS = 200
MAX_RECHECK_POINTS = 100_000


@dataclass
class ChannelSpec:
    """Optional unit and description of a channel, applied when it is created."""

    unit: str | None = None
    description: str | None = None


@dataclass
class IngestReport:
    """What one ingest call stored and found."""

    satellite: str
    channels: list[str] = field(default_factory=list)
    received: int = 0
    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: int = 0
    anomalies_new: int = 0
    anomalies_updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return dict(self.__dict__)


def _ns(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def _to_write(item: DetectedAnomaly) -> AnomalyWrite:
    return AnomalyWrite(
        detector=item.detector,
        kind=item.kind,
        start=item.start.to_pydatetime(),
        end=item.end.to_pydatetime(),
        score=float(item.score),
        severity=item.severity,
        ongoing=bool(item.ongoing),
        params=dict(item.params),
    )


class Pipeline:
    """Writes points, keeps one streaming detector per channel, stores and indexes anomalies.

    Thread-safe: calls are serialised, since one process writes a given store.
    """

    def __init__(
        self,
        engine: Engine,
        detector_config: DetectorConfig | None = None,
        index_anomalies: Callable[[list[AnomalyView]], Any] | None = None,
        tenant: str = "default",
    ) -> None:
        self.engine = engine
        self.config = detector_config or DetectorConfig()
        self.index_anomalies = index_anomalies
        self.tenant = tenant
        #: groups stored anomalies into incidents (and queues messages), when set
        self.incidents: IncidentTracker | None = None
        self._detectors: dict[int, ChannelDetector] = {}
        self._lock = threading.Lock()

    def ingest(
        self,
        satellite: str,
        points: pd.DataFrame,
        *,
        source: str = "push",
        detect: bool = True,
        specs: dict[str, ChannelSpec] | None = None,
    ) -> IngestReport:
        """Store `points` (columns ts UTC, channel, value) of `satellite` and detect on them.

        Points must already be validated: finite values, timezone-aware timestamps.
        Duplicated (channel, ts) keep their first value.
        """
        report = IngestReport(satellite=satellite, received=len(points))
        if points.empty:
            return report
        points = points.drop_duplicates(["channel", "ts"], keep="first")
        points = points.sort_values(["channel", "ts"], kind="stable")
        with self._lock:
            for channel_name, group in points.groupby("channel", sort=True):
                spec = (specs or {}).get(str(channel_name), ChannelSpec())
                self._ingest_channel(
                    report, satellite, str(channel_name), group, source, detect, spec
                )
            if self.incidents is not None and detect:
                self.incidents.advance(self.tenant, satellite, points["ts"].max().to_pydatetime())
        logger.info(
            "ingested %s from %s: %d received, %d new, %d corrected, %d anomalies new, %d updated",
            satellite,
            source,
            report.received,
            report.inserted,
            report.corrected,
            report.anomalies_new,
            report.anomalies_updated,
        )
        return report

    def _ingest_channel(
        self,
        report: IngestReport,
        satellite_name: str,
        channel_name: str,
        group: pd.DataFrame,
        source: str,
        detect: bool,
        spec: ChannelSpec,
    ) -> None:
        with Session(self.engine) as session:
            satellite = repository.get_or_create_satellite(session, satellite_name, self.tenant)
            channel = repository.get_or_create_channel(
                session, satellite, channel_name, spec.unit, spec.description
            )
            assert channel.id is not None
            channel_id = channel.id
            written = repository.write_points(
                session, channel_id, group["ts"], group["value"].to_numpy(float)
            )
            last_ts = group["ts"].max().to_pydatetime()
            repository.save_checkpoint(
                session, source, f"{satellite_name}/{channel_name}", last_ts
            )
            session.commit()
        report.channels.append(channel_name)
        report.inserted += written.inserted
        report.corrected += written.corrected
        report.unchanged += written.unchanged
        # points stored before with the same value (an overlapping re-read) are not news
        fresh = group[~written.unchanged_mask] if written.unchanged else group
        if not detect or fresh.empty:
            return

        detected = self._detect_new(channel_id, fresh)
        if written.corrected_ts:
            detected += self.detect_range(
                channel_id, min(written.corrected_ts), max(written.corrected_ts)
            )
        self._store_anomalies(report, channel_id, detected)

    def _detector_for(self, channel_id: int, before: datetime) -> ChannelDetector:
        detector = self._detectors.get(channel_id)
        if detector is None:
            detector = ChannelDetector(self.config)
            with Session(self.engine) as session:
                history = queries.channel_points(
                    session, channel_id, end=before, limit=self.config.window, latest=True
                )
            history = history[history["ts"] < pd.Timestamp(before)]
            if len(history):
                detector.warm(_ns(history["ts"]), history["value"].to_numpy(float))
            self._detectors[channel_id] = detector
        return detector

    def _detect_new(self, channel_id: int, group: pd.DataFrame) -> list[DetectedAnomaly]:
        first = group["ts"].min().to_pydatetime()
        detector = self._detector_for(channel_id, first)
        ts_ns = _ns(group["ts"])
        last_seen = detector.last_timestamp_ns
        late = ts_ns <= last_seen if last_seen is not None else np.zeros(len(ts_ns), bool)
        detected = detector.update(ts_ns[~late], group["value"].to_numpy(float)[~late])
        if late.any():
            late_ts = group["ts"][late]
            logger.info("%d late points on channel %d are re-checked", int(late.sum()), channel_id)
            detected += self.detect_range(
                channel_id,
                late_ts.min().to_pydatetime(),
                late_ts.max().to_pydatetime(),
                RECHECK_MARGIN_POINTS,
            )
        return detected

    def detect_range(
        self, channel_id: int, first: datetime, last: datetime, margin_points: int = 0
    ) -> list[DetectedAnomaly]:
        """Batch detection over stored points in [first, last], warmed by the points before.

        `margin_points` more points after `last` are included, so that a re-check of a
        corrected stretch lets the events starting in it close as a live run would.
        """
        with Session(self.engine) as session:
            history = queries.channel_points(
                session, channel_id, end=first, limit=self.config.window, latest=True
            )
            history = history[history["ts"] < pd.Timestamp(first)]
            after = queries.channel_points(session, channel_id, start=first, end=None)
        inside = int((after["ts"] <= pd.Timestamp(last)).sum())
        after = after.iloc[: min(inside + margin_points, MAX_RECHECK_POINTS)]
        if after.empty:
            return []
        return list(
            detect_series(
                _ns(after["ts"]),
                after["value"].to_numpy(float),
                self.config,
                history=(_ns(history["ts"]), history["value"].to_numpy(float)),
            )
        )

    def _store_anomalies(
        self, report: IngestReport, channel_id: int, detected: list[DetectedAnomaly]
    ) -> None:
        new, updated = self.store_detected(channel_id, detected)
        report.anomalies_new += new
        report.anomalies_updated += updated

    def store_detected(self, channel_id: int, detected: list[DetectedAnomaly]) -> tuple[int, int]:
        """Upsert detected anomalies and index them; returns (new, updated) counts."""
        if not detected:
            return 0, 0
        latest: dict[tuple[str, Any], DetectedAnomaly] = {}
        for item in detected:
            latest[(item.detector, item.start)] = item
        with Session(self.engine) as session:
            written = repository.upsert_anomalies(
                session, channel_id, [_to_write(a) for a in latest.values()]
            )
            session.commit()
            ids = [record.id for record, _created in written if record.id is not None]
            new = sum(1 for _record, created in written if created)
            views = [queries.get_anomaly(session, i) for i in ids]
        if self.index_anomalies is not None and views:
            self.index_anomalies(views)
        if self.incidents is not None and ids:
            self.incidents.record([int(i) for i in ids])
        return new, len(written) - new

    def channel_ids(self) -> list[int]:
        """Channels that have a live detector in this process."""
        return list(self._detectors)


def channel_by_name(session: Session, satellite: str, channel: str) -> Channel | None:
    """Look a channel up by satellite and channel name."""
    for view in queries.list_channels(session, satellite):
        if view.name == channel:
            return session.get(Channel, view.id)
    return None
