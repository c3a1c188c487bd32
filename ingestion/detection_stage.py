"""Background detection of pushed points: pushes store and answer, this stage detects.

The store is the queue: a push commits its points with a ``#queued`` mark per channel
(:mod:`ingestion.detection_marks`) and hands the channel to this stage, whose thread runs
``Pipeline.detect_pending`` on it (the stored points after what detection has seen, in
time order, a bounded chunk at a time) until nothing is left. The in-memory queue holds
channel ids, not points, and is bounded: past ``max_channels`` waiting channels a push
only sets a flag and the stage rescans the store's marks, so pushes never wait for
detection. At start the stage queues every channel the marks say is still owed
detection (a crash between store and detect).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from ingestion.detection_marks import owed_channels
from ingestion.pipeline import Pipeline, StoredChannel

logger = logging.getLogger(__name__)

#: seconds to wait before retrying a channel whose detection step failed
RETRY_S = 5.0


@dataclass
class _Waiting:
    tenant: str | None
    satellite: str | None
    last_ts: datetime | None
    since: float


@dataclass
class StageStats:
    """Counters shown by /metrics."""

    steps: int = 0
    anomalies_new: int = 0
    errors: int = 0
    overflows: int = 0


class DetectionStage:
    """One thread that detects the channels pushes queued, oldest first."""

    def __init__(self, pipeline: Pipeline, max_channels: int = 10_000) -> None:
        self.pipeline = pipeline
        self.max_channels = max_channels
        self.stats = StageStats()
        self._waiting: OrderedDict[int, _Waiting] = OrderedDict()
        self._busy: int | None = None
        self._rescan = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start the thread (once) after queueing the channels still owed detection."""
        if self._thread is not None:
            return False
        self._stop.clear()
        with self._cond:
            self._rescan = True
        self._thread = threading.Thread(target=self._run, name="imon-detection", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current step and stop; what is left stays owed in the store."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def enqueue(self, stored: Iterable[StoredChannel]) -> None:
        """Queue channels that received points; never blocks on detection."""
        now = time.monotonic()
        with self._cond:
            for item in stored:
                waiting = self._waiting.get(item.channel_id)
                if waiting is not None:
                    waiting.tenant, waiting.satellite = item.tenant, item.satellite
                    if waiting.last_ts is None or item.last_ts > waiting.last_ts:
                        waiting.last_ts = item.last_ts
                elif len(self._waiting) < self.max_channels:
                    self._waiting[item.channel_id] = _Waiting(
                        item.tenant, item.satellite, item.last_ts, now
                    )
                else:
                    self._rescan = True
                    self.stats.overflows += 1
            self._cond.notify_all()

    def waiting(self) -> dict[int, float]:
        """Channels queued or in detection, with the seconds since they were queued."""
        now = time.monotonic()
        with self._cond:
            out = {key: now - item.since for key, item in self._waiting.items()}
            if self._busy is not None:
                out.setdefault(self._busy, 0.0)
            return out

    def idle(self) -> bool:
        """Whether nothing is queued, in detection or left to rescan."""
        with self._cond:
            return not self._waiting and self._busy is None and not self._rescan

    def wait_idle(self, timeout: float) -> bool:
        """Block until the stage is idle (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._busy is not None or self._rescan:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                rescan = self._rescan
                if rescan:
                    self._rescan = False
            if rescan:
                self._queue_owed()
            with self._cond:
                if not self._waiting:
                    if not self._rescan:
                        self._cond.wait(1.0)
                    continue
                channel_id, item = self._waiting.popitem(last=False)
                self._busy = channel_id
            try:
                self._step(channel_id, item)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()

    def _queue_owed(self) -> None:
        try:
            owed = owed_channels(self.pipeline.engine)
        except SQLAlchemyError:
            logger.exception("detection marks could not be read; retrying")
            self._stop.wait(RETRY_S)
            with self._cond:
                self._rescan = True
            return
        if owed:
            logger.info("%d channels have stored points not detected yet", len(owed))
        now = time.monotonic()
        with self._cond:
            for channel_id in owed:
                if channel_id not in self._waiting and len(self._waiting) < self.max_channels:
                    self._waiting[channel_id] = _Waiting(None, None, None, now)

    def _step(self, channel_id: int, item: _Waiting) -> None:
        """One bounded detection step; the channel is queued again while points remain."""
        try:
            new, _updated = self.pipeline.detect_pending(channel_id)
            more = self.pipeline.has_pending(channel_id)
        except Exception:  # logged and retried: the points stay owed in the store
            self.stats.errors += 1
            logger.exception("background detection of channel %d failed", channel_id)
            self._stop.wait(RETRY_S)
            more, new = True, 0
        self.stats.steps += 1
        self.stats.anomalies_new += new
        with self._cond:
            if more:
                self._waiting.setdefault(channel_id, item)
                return
        incidents = self.pipeline.incidents
        if incidents is not None and item.tenant and item.satellite and item.last_ts:
            incidents.advance(item.tenant, item.satellite, item.last_ts)
