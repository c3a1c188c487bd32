"""The background worker: polls every source on its schedule and feeds the pipeline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from ingestion.errors import IngestionError
from ingestion.feed_gaps import FeedGapWatch
from ingestion.pipeline import ChannelSpec, IngestReport, Pipeline
from store import repository
from store.models import Checkpoint, Event

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Points (ts UTC, channel, value) of one satellite, with context events.

    `rejected` counts the points the source received but could not use (NaN, non-numeric).
    """

    satellite: str
    points: pd.DataFrame
    events: list[Event] = field(default_factory=list)
    specs: dict[str, ChannelSpec] = field(default_factory=dict)
    rejected: int = 0


class Source(Protocol):
    """Something the worker polls for new telemetry."""

    name: str

    def poll(self, since: datetime | None, now: datetime) -> Iterable[Batch]:
        """Batches with points after `since` (None: first poll) up to `now`."""
        ...


@runtime_checkable
class CheckpointedSource(Protocol):
    """A source that resumes each of its series from that series' own checkpoint.

    The checkpoints map `satellite/channel` to the last stored timestamp, as the pipeline
    writes them with the points; batches may be produced lazily, chunk by chunk.
    """

    name: str

    def poll_from(self, checkpoints: Mapping[str, datetime], now: datetime) -> Iterable[Batch]:
        """Batches of every series after its checkpoint up to `now`."""
        ...


@dataclass
class SourceStatus:
    """What the worker knows about one source, shown by /health and /metrics."""

    name: str
    interval_s: float = 5.0
    last_poll: datetime | None = None
    last_ts: datetime | None = None
    points: int = 0
    rejected: int = 0
    anomalies: int = 0
    polls: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    def lag_s(self, now: datetime) -> float | None:
        """Seconds between `now` and the newest point delivered, if any."""
        return None if self.last_ts is None else (now - self.last_ts).total_seconds()


class SimulatorSource:
    """The built-in simulator as a live source: backfills, then follows the clock."""

    def __init__(
        self,
        simulator: Any,
        satellite: str,
        backfill: timedelta,
        specs: dict[str, ChannelSpec] | None = None,
    ) -> None:
        self.name = f"simulator:{satellite}"
        self.simulator = simulator
        self.satellite = satellite
        self.backfill = backfill
        self.specs = specs or {}

    def poll(self, since: datetime | None, now: datetime) -> list[Batch]:
        start = since + timedelta(microseconds=1) if since else now - self.backfill
        if start >= now:
            return []
        points = self.simulator.generate(start, now)
        events = [
            Event(satellite_id=0, ts=item.ts, kind=item.kind, text=item.text)
            for item in self.simulator.events(start, now)
        ]
        return [Batch(self.satellite, points, events, self.specs)]


def simulator_source(
    *, seed: int, satellite: str, cadence_s: float, backfill_hours: float
) -> SimulatorSource:
    """The simulator configured from plain settings."""
    from ingestion.simulator import CHANNELS, TelemetrySimulator

    simulator = TelemetrySimulator(seed=seed, cadence_s=cadence_s, satellite=satellite)
    specs = {
        spec.name: ChannelSpec(unit=spec.unit, description=spec.description) for spec in CHANNELS
    }
    return SimulatorSource(simulator, satellite, timedelta(hours=backfill_hours), specs)


@dataclass(frozen=True)
class PeriodicJob:
    """A job the worker runs on its clock every `interval_s` seconds, in its own thread."""

    name: str
    interval_s: float
    run: Callable[[datetime], Any]


class Worker:
    """Polls every source on its own schedule, each in its own thread.

    A source's `interval_s` attribute, when it has one, overrides the default interval.
    One failing source does not stop the others: its error is counted, logged and shown.
    `periodic` jobs (e.g. scheduled training) run in threads of their own.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        sources: list[Any],
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        gap_factor: float | None = None,
        maintenance: list[Callable[[datetime], Any]] | None = None,
        maintenance_interval_s: float = 3600.0,
        periodic: list[PeriodicJob] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sources = sources
        self.interval_s = interval_s
        self.clock = clock
        self.status = {
            source.name: SourceStatus(source.name, getattr(source, "interval_s", interval_s))
            for source in sources
        }
        #: quiet feeds become open `gap` anomalies (None: not watched)
        self.gaps = None if gap_factor is None else FeedGapWatch(pipeline, gap_factor, clock)
        #: jobs run on the worker's clock every `maintenance_interval_s` (e.g. retention)
        self.maintenance = list(maintenance or [])
        self.maintenance_interval_s = maintenance_interval_s
        self.periodic = list(periodic or [])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one daemon thread per source."""
        if self._threads or not (self.sources or self.periodic):
            return
        self._stop.clear()
        for source in self.sources:
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"imon-worker:{source.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.maintenance:
            thread = threading.Thread(
                target=self._run_maintenance, name="imon-worker:maintenance", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        for job in self.periodic:
            thread = threading.Thread(
                target=self._run_periodic, args=(job,), name=f"imon-worker:{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        logger.info(
            "worker started with sources: %s",
            ", ".join(f"{s.name} every {s.interval_s:g} s" for s in self.status.values()),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loops to stop, wait for them, close sources that hold connections."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        for source in self.sources:
            close = getattr(source, "close", None)
            if callable(close):
                close()

    def _run(self, source: Any) -> None:
        status = self.status[source.name]
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_source(source)
            except Exception as error:  # counted and shown, and the loop goes on
                self._record_error(status, error)
                logger.exception("source %s failed unexpectedly", source.name)
            self._stop.wait(max(0.0, status.interval_s - (time.monotonic() - started)))

    def _run_maintenance(self) -> None:
        while not self._stop.wait(self.maintenance_interval_s):
            self.run_maintenance()

    def _run_periodic(self, job: PeriodicJob) -> None:
        while not self._stop.wait(job.interval_s):
            try:
                job.run(self.clock())
            except (OSError, ValueError, RuntimeError, IngestionError, SQLAlchemyError):
                logger.exception("periodic job %s failed", job.name)

    def run_maintenance(self) -> None:
        """Run every maintenance job once; a failing job is logged and the others run."""
        for job in self.maintenance:
            try:
                job(self.clock())
            except (OSError, ValueError, RuntimeError, SQLAlchemyError):
                logger.exception("maintenance job %s failed", getattr(job, "__name__", job))

    def run_once(self) -> list[IngestReport]:
        """Poll every source once, one after the other; errors are recorded per source."""
        reports = []
        for source in self.sources:
            reports += self.poll_source(source)
        return reports

    def poll_source(self, source: Any) -> list[IngestReport]:
        """Poll one source; expected failures are recorded in its status, not raised."""
        status = self.status[source.name]
        try:
            reports = self._poll(source, status)
        except (OSError, ValueError, RuntimeError, IngestionError, SQLAlchemyError) as error:
            self._record_error(status, error)
            logger.error("source %s failed: %s", source.name, status.last_error)
            return []
        status.last_error = None
        return reports

    def _record_error(self, status: SourceStatus, error: BaseException) -> None:
        status.errors += 1
        status.last_error = f"{type(error).__name__}: {error}"
        status.last_error_at = self.clock()

    def _poll(self, source: Any, status: SourceStatus) -> list[IngestReport]:
        now = self.clock()
        status.last_poll = now
        status.polls += 1
        if isinstance(source, CheckpointedSource):
            checkpoints = self._checkpoints(source)
            if status.last_ts is None and checkpoints:
                status.last_ts = max(checkpoints.values())
            batches = source.poll_from(checkpoints, now)
        else:
            batches = source.poll(status.last_ts or self._checkpoint(source), now)
        reports = []
        for batch in batches:
            status.rejected += batch.rejected
            if not batch.points.empty:
                report = self.pipeline.ingest(
                    batch.satellite, batch.points, source=source.name, specs=batch.specs
                )
                status.points += report.inserted
                status.anomalies += report.anomalies_new
                last_ts = batch.points["ts"].max().to_pydatetime()
                status.last_ts = max(last_ts, status.last_ts) if status.last_ts else last_ts
                reports.append(report)
            self._store_events(batch)
            if self._stop.is_set():
                break
        if self.gaps is not None:
            opened = self.gaps.opened
            self.gaps.check(source.name, self._checkpoints(source), status.interval_s)
            status.anomalies += self.gaps.opened - opened
        return reports

    def _checkpoint(self, source: Any) -> datetime | None:
        with Session(self.pipeline.engine) as session:
            return session.scalar(
                select(func.max(Checkpoint.last_ts)).where(Checkpoint.source == source.name)
            )

    def _checkpoints(self, source: Any) -> dict[str, datetime]:
        with Session(self.pipeline.engine) as session:
            found = session.scalars(
                select(Checkpoint).where(Checkpoint.source == source.name)
            ).all()
        return {item.channel: item.last_ts for item in found}

    def _store_events(self, batch: Batch) -> None:
        if not batch.events:
            return
        with Session(self.pipeline.engine) as session:
            satellite = repository.get_or_create_satellite(
                session, batch.satellite, self.pipeline.tenant
            )
            repository.add_events(session, satellite, batch.events)
            session.commit()
