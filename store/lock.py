"""One writer per IMON_HOME, enforced with a lock file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from filelock import FileLock, Timeout

from store.errors import HomeLockedError

logger = logging.getLogger(__name__)

LOCK_NAME = "writer.lock"
PID_NAME = "writer.pid"


class WriterLock:
    """Hold the writer lock of an IMON_HOME for the life of a process.

    A second writer fails at once with a message saying what to do instead.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = FileLock(str(home / LOCK_NAME))

    def acquire(self) -> None:
        """Take the lock or raise `HomeLockedError`."""
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = self._read_holder()
            raise HomeLockedError(
                f"{self.home} is already written by another process{holder}. Stop the server "
                "first, or send the data to it over HTTP instead "
                "(`imon replay FILE` or POST /ingest)."
            ) from None
        (self.home / PID_NAME).write_text(str(os.getpid()))
        logger.info("writer lock taken on %s (pid %d)", self.home, os.getpid())

    def release(self) -> None:
        """Give the lock back."""
        if self._lock.is_locked:
            self._lock.release()

    def _read_holder(self) -> str:
        try:
            return f" (pid {int((self.home / PID_NAME).read_text().strip())})"
        except (OSError, ValueError):
            return ""
