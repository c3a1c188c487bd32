"""The background worker: polls every source on its schedule and feeds the pipeline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from ingestion.pipeline import ChannelSpec, IngestReport, Pipeline
from store import repository
from store.models import Checkpoint, Event

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Points (ts UTC, channel, value) of one satellite, with context events."""

    satellite: str
    points: pd.DataFrame
    events: list[Event] = field(default_factory=list)
    specs: dict[str, ChannelSpec] = field(default_factory=dict)


class Source(Protocol):
    """Something the worker polls for new telemetry."""

    name: str

    def poll(self, since: datetime | None, now: datetime) -> list[Batch]:
        """Batches with points after `since` (None: first poll) up to `now`."""
        ...


@dataclass
class SourceStatus:
    """What the worker knows about one source, shown by /health."""

    name: str
    last_poll: datetime | None = None
    last_ts: datetime | None = None
    points: int = 0
    anomalies: int = 0
    polls: int = 0
    last_error: str | None = None


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


class Worker:
    """Runs every source in a background thread; one failing source does not stop others."""

    def __init__(
        self,
        pipeline: Pipeline,
        sources: list[Any],
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pipeline = pipeline
        self.sources = sources
        self.interval_s = interval_s
        self.clock = clock
        self.status = {source.name: SourceStatus(source.name) for source in sources}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling in a daemon thread."""
        if self._thread is not None or not self.sources:
            return
        self._thread = threading.Thread(target=self._run, name="imon-worker", daemon=True)
        self._thread.start()
        logger.info("worker started with sources: %s", ", ".join(self.status))

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def run_once(self) -> list[IngestReport]:
        """Poll every source once; errors are recorded per source and logged."""
        reports = []
        for source in self.sources:
            status = self.status[source.name]
            try:
                reports += self._poll(source, status)
                status.last_error = None
            except (OSError, ValueError, RuntimeError) as error:
                status.last_error = f"{type(error).__name__}: {error}"
                logger.error("source %s failed: %s", source.name, status.last_error)
        return reports

    def _poll(self, source: Any, status: SourceStatus) -> list[IngestReport]:
        now = self.clock()
        batches = source.poll(status.last_ts or self._checkpoint(source), now)
        status.last_poll = now
        status.polls += 1
        reports = []
        for batch in batches:
            if batch.points.empty:
                continue
            report = self.pipeline.ingest(
                batch.satellite, batch.points, source=source.name, specs=batch.specs
            )
            self._store_events(batch)
            status.points += report.inserted
            status.anomalies += report.anomalies_new
            status.last_ts = batch.points["ts"].max().to_pydatetime()
            reports.append(report)
        return reports

    def _checkpoint(self, source: Any) -> datetime | None:
        with Session(self.pipeline.engine) as session:
            return session.scalar(
                select(func.max(Checkpoint.last_ts)).where(Checkpoint.source == source.name)
            )

    def _store_events(self, batch: Batch) -> None:
        if not batch.events:
            return
        with Session(self.pipeline.engine) as session:
            satellite = repository.get_or_create_satellite(
                session, batch.satellite, self.pipeline.tenant
            )
            repository.add_events(session, satellite, batch.events)
            session.commit()
