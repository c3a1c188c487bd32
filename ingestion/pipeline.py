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
from sqlmodel import Session, select

from detection import ChannelDetector, DetectedAnomaly, DetectorConfig, detect_series
from detection.feedback import SHAPE_POINTS
from ingestion.detection_marks import (
    DETECTED_SOURCE,
    QUEUED_SOURCE,
    Recheck,
    advance_checkpoints,
    clear_recheck,
    detected_until,
    mark_recheck,
    read_recheck,
)
from ingestion.incidents import IncidentTracker
from store import queries, repository
from store.models import Anomaly, Channel
from store.queries import AnomalyView
from store.repository import AnomalyWrite

logger = logging.getLogger(__name__)

RECHECK_MARGIN_POINTS = 200
MAX_RECHECK_POINTS = 100_000
#: stored points a detection step reads and detects at most (a channel far behind takes
#: several steps, so a step holds the detection lock for a bounded time)
DETECT_CHUNK = 20_000
__all__ = ["DETECTED_SOURCE", "ChannelSpec", "IngestReport", "Pipeline", "StoredChannel"]


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
    #: points repeating a (channel, ts) earlier in the same batch; the first one is kept
    duplicates: int = 0
    anomalies_new: int = 0
    anomalies_updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class StoredChannel:
    """A channel that received points in an ingest call: what background detection needs."""

    channel_id: int
    tenant: str
    satellite: str
    last_ts: datetime


def _ns(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def _from_ns(value: int | None) -> datetime | None:
    return None if value is None else pd.Timestamp(value, unit="ns", tz="UTC").to_pydatetime()


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

    Thread-safe: detection is serialised by one lock, and stores by another, shorter one,
    so points can be stored (a push answered) while a detection step runs. Detection reads
    the stored points after what it has already seen, in time order, so points stored
    without detection (``ingest(detect=False)``) are detected by a later step.
    """

    def __init__(
        self,
        engine: Engine,
        detector_config: DetectorConfig | None = None,
        index_anomalies: Callable[[list[AnomalyView]], Any] | None = None,
        tenant: str = "default",
        config_for: Callable[[int], DetectorConfig | None] | None = None,
        reference_for: Callable[[int], np.ndarray | None] | None = None,
    ) -> None:
        self.engine = engine
        self.config = detector_config or DetectorConfig()
        #: the DetectorConfig of a channel's trained model, None while it has none
        self.config_for = config_for
        #: the reference values (known-normal history) of a channel's trained model, or None
        self.reference_for = reference_for
        self.index_anomalies = index_anomalies
        self.tenant = tenant
        #: groups stored anomalies into incidents (and queues messages), when set
        self.incidents: IncidentTracker | None = None
        self._detectors: dict[int, ChannelDetector] = {}
        #: per channel, the newest stored point a detection step has read
        self._seen: dict[int, datetime] = {}
        self._lock = threading.RLock()
        self._store_lock = threading.Lock()

    def ingest(
        self,
        satellite: str,
        points: pd.DataFrame,
        *,
        source: str = "push",
        detect: bool = True,
        specs: dict[str, ChannelSpec] | None = None,
        tenant: str | None = None,
        queue: list[StoredChannel] | None = None,
    ) -> IngestReport:
        """Store `points` (columns ts UTC, channel, value) of `satellite` and detect on them.

        The satellite belongs to `tenant` (the pipeline's tenant when None). With `detect`
        False the points are only stored. With a `queue` list too, they are also marked
        as owed detection (``#queued``) and the channels written are appended to `queue`,
        for the background stage (:mod:`ingestion.detection_stage`).

        Points must already be validated: finite values, timezone-aware timestamps.
        Duplicated (channel, ts) keep their first value.
        """
        report = IngestReport(satellite=satellite, received=len(points))
        if points.empty:
            return report
        unique = points.drop_duplicates(["channel", "ts"], keep="first")
        report.duplicates = len(points) - len(unique)
        if report.duplicates:
            logger.warning(
                "%s: %d points repeat a (channel, ts) of the same batch; kept the first",
                satellite,
                report.duplicates,
            )
        points = unique
        points = points.sort_values(["channel", "ts"], kind="stable")
        owner = tenant or self.tenant
        if not detect:
            written = self._store_points(
                report, satellite, points, source, specs or {}, owner, queued=queue is not None
            )
            if queue is not None:
                queue += written
        else:
            with self._lock:
                written = self._store_points(report, satellite, points, source, specs or {}, owner)
                for item in written:
                    new, updated = self.detect_pending(item.channel_id, limit=None)
                    report.anomalies_new += new
                    report.anomalies_updated += updated
                if self.incidents is not None:
                    self.incidents.advance(owner, satellite, points["ts"].max().to_pydatetime())
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

    def _store_points(
        self,
        report: IngestReport,
        satellite_name: str,
        points: pd.DataFrame,
        source: str,
        specs: dict[str, ChannelSpec],
        tenant: str,
        *,
        queued: bool = False,
    ) -> list[StoredChannel]:
        """Write every channel's points and checkpoint in one transaction.

        New or corrected points at or before what detection has already read are marked
        for a re-check in the same transaction; with `queued`, so is the newest point.
        """
        stored = []
        marks: dict[tuple[str, str], datetime] = {}
        with self._store_lock, Session(self.engine) as session:
            satellite = repository.get_or_create_satellite(session, satellite_name, tenant)
            groups = []
            for channel_name, group in points.groupby("channel", sort=True):
                name = str(channel_name)
                spec = specs.get(name, ChannelSpec())
                channel = repository.get_or_create_channel(
                    session, satellite, name, spec.unit, spec.description
                )
                assert channel.id is not None
                groups.append((channel.id, name, group))
            unknown = [i for i, _, _ in groups if i not in self._seen and i not in self._detectors]
            watermarks = detected_until(session, unknown) if unknown else {}
            for channel_id, name, group in groups:
                written = repository.write_points(
                    session, channel_id, group["ts"], group["value"].to_numpy(float)
                )
                last_ts = group["ts"].max().to_pydatetime()
                marks[(source, f"{satellite_name}/{name}")] = last_ts
                report.channels.append(name)
                report.inserted += written.inserted
                report.corrected += written.corrected
                report.unchanged += written.unchanged
                # points stored before with the same value (an overlapping re-read) are not news
                fresh = group[~written.unchanged_mask] if written.unchanged else group
                seen = self._seen.get(channel_id, watermarks.get(channel_id))
                self._mark_late(session, channel_id, seen, fresh["ts"], written.corrected_ts)
                if queued:
                    marks[(QUEUED_SOURCE, str(channel_id))] = last_ts
                stored.append(StoredChannel(channel_id, tenant, satellite_name, last_ts))
            advance_checkpoints(session, marks)
            session.commit()
        return stored

    def _mark_late(
        self,
        session: Session,
        channel_id: int,
        seen: datetime | None,
        fresh: pd.Series,
        corrected: list[datetime],
    ) -> None:
        """Mark for a re-check the news at or before `seen`, what detection has read."""
        if seen is None:
            return
        late = [ts.to_pydatetime() for ts in fresh[fresh <= pd.Timestamp(seen)]]
        late += [ts for ts in corrected if ts <= seen]
        if late:
            logger.info(
                "%d late or corrected points on channel %d are re-checked", len(late), channel_id
            )
            mark_recheck(session, channel_id, min(late), max(late))

    def channel_config(self, channel_id: int) -> DetectorConfig:
        """The channel's trained model's settings, or the defaults while it has none."""
        trained = self.config_for(channel_id) if self.config_for is not None else None
        return trained or self.config

    def channel_reference(self, channel_id: int) -> np.ndarray | None:
        """The channel's trained model's reference values, or None while it has none."""
        return self.reference_for(channel_id) if self.reference_for is not None else None

    def _load_detector(self, channel_id: int) -> ChannelDetector:
        """A detector warmed up to the channel's detection checkpoint.

        The points after the checkpoint were committed but their anomalies were not (a
        crash between the two transactions, a new process, or queued points): the next
        detection step reads and detects them.
        """
        config = self.channel_config(channel_id)
        detector = ChannelDetector(config, false_positives=self.false_positive_shapes(channel_id))
        reference = self.channel_reference(channel_id)
        if reference is not None:
            detector.set_reference(reference)
        with Session(self.engine) as session:
            done = repository.get_checkpoint(session, DETECTED_SOURCE, str(channel_id))
            history = (
                queries.channel_points(
                    session, channel_id, end=done, limit=config.window, latest=True
                )
                if done is not None
                else None
            )
        if history is not None and len(history):
            detector.warm(_ns(history["ts"]), history["value"].to_numpy(float))
        self._detectors[channel_id] = detector
        if done is not None:
            self._seen[channel_id] = done
        else:
            self._seen.pop(channel_id, None)
        return detector

    def detect_pending(self, channel_id: int, limit: int | None = DETECT_CHUNK) -> tuple[int, int]:
        """Detect the channel's stored points not detected yet, and its pending re-checks.

        Reads the points after the newest one detection has seen, in time order (at most
        `limit` per step; None: all), feeds them to the channel's streaming detector,
        re-checks late or corrected points in their window, and commits the anomalies with
        the detection checkpoint. Returns the (new, updated) anomaly counts.
        """
        with self._lock:
            detector = self._detectors.get(channel_id)
            if detector is None:
                detector = self._load_detector(channel_id)
            else:
                detector.set_false_positives(self.false_positive_shapes(channel_id))
            pending, recheck = self._read_pending(channel_id, limit)
            if len(pending):
                logger.debug("channel %d: %d stored points detected", channel_id, len(pending))
            detected = detector.update(_ns(pending["ts"]), pending["value"].to_numpy(float))
            if recheck is not None:
                detected += self.detect_range(
                    channel_id, recheck.first, recheck.last, RECHECK_MARGIN_POINTS
                )
            counts = self.store_detected(
                channel_id, detected, detected_until=_from_ns(detector.last_timestamp_ns)
            )
            if recheck is not None:
                clear_recheck(self.engine, channel_id, recheck)
            return counts

    def has_pending(self, channel_id: int) -> bool:
        """Whether stored points of the channel after what detection has read remain."""
        with self._store_lock, Session(self.engine) as session:
            seen = self._seen.get(channel_id)
            if seen is None and channel_id not in self._detectors:
                seen = repository.get_checkpoint(session, DETECTED_SOURCE, str(channel_id))
            newer = queries.channel_points(session, channel_id, start=seen, limit=2)
            if seen is not None:
                newer = newer[newer["ts"] > pd.Timestamp(seen)]
            return len(newer) > 0 or read_recheck(session, channel_id) is not None

    def _read_pending(
        self, channel_id: int, limit: int | None
    ) -> tuple[pd.DataFrame, Recheck | None]:
        """The stored points after what detection has seen, and the pending re-check.

        Read under the store lock, so a point stored meanwhile is either read here or
        marked late for a re-check by its store (see `_mark_late`).
        """
        with self._store_lock, Session(self.engine) as session:
            seen = self._seen.get(channel_id)
            pending = queries.channel_points(
                session, channel_id, start=seen, limit=None if limit is None else limit + 1
            )
            if seen is not None:
                pending = pending[pending["ts"] > pd.Timestamp(seen)]
            if limit is not None:
                pending = pending.iloc[:limit]
            recheck = read_recheck(session, channel_id)
            if len(pending):
                self._seen[channel_id] = pending["ts"].iloc[-1].to_pydatetime()
        return pending, recheck

    def detect_range(
        self, channel_id: int, first: datetime, last: datetime, margin_points: int = 0
    ) -> list[DetectedAnomaly]:
        """Batch detection over stored points in [first, last], warmed by the points before.

        `margin_points` more points after `last` are included, so that a re-check of a
        corrected stretch lets the events starting in it close as a live run would.
        """
        config = self.channel_config(channel_id)
        with Session(self.engine) as session:
            history = queries.channel_points(
                session, channel_id, end=first, limit=config.window, latest=True
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
                config,
                history=(_ns(history["ts"]), history["value"].to_numpy(float)),
                false_positives=self.false_positive_shapes(channel_id),
                reference=self.channel_reference(channel_id),
            )
        )

    def store_detected(
        self,
        channel_id: int,
        detected: list[DetectedAnomaly],
        *,
        detected_until: datetime | None = None,
    ) -> tuple[int, int]:
        """Upsert detected anomalies and index them; returns (new, updated) counts.

        `detected_until`, when given, moves the channel's detection checkpoint in the same
        transaction: the anomalies of every point up to it are then committed.
        """
        if not detected and detected_until is None:
            return 0, 0
        latest: dict[tuple[str, Any], DetectedAnomaly] = {}
        for item in detected:
            latest[(item.detector, item.start)] = item
        with Session(self.engine) as session:
            written = repository.upsert_anomalies(
                session, channel_id, [_to_write(a) for a in latest.values()]
            )
            if detected_until is not None:
                repository.save_checkpoint(
                    session, DETECTED_SOURCE, str(channel_id), detected_until
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

    def false_positive_shapes(self, channel_id: int) -> list[list[float]]:
        """Shapes of the channel's anomalies an operator marked ``false_positive``."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Anomaly.params).where(
                    Anomaly.channel_id == channel_id, Anomaly.status == "false_positive"
                )
            ).all()
        shapes = [p.get("shape") for p in rows if isinstance(p, dict)]
        return [list(s) for s in shapes if isinstance(s, list) and len(s) == SHAPE_POINTS]

    def channel_ids(self) -> list[int]:
        """Channels that have a live detector in this process."""
        return list(self._detectors)

    def forget_detectors(self, channel_ids: list[int]) -> None:
        """Drop the channels' live detectors: the next points rebuild them from the
        channel's current model, warmed from the stored history (e.g. after training)."""
        with self._lock:
            for channel_id in channel_ids:
                self._detectors.pop(channel_id, None)
                self._seen.pop(channel_id, None)


def channel_by_name(session: Session, satellite: str, channel: str) -> Channel | None:
    """Look a channel up by satellite and channel name."""
    for view in queries.list_channels(session, satellite):
        if view.name == channel:
            return session.get(Channel, view.id)
    return None
