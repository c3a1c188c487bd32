"""A scan that repeats in a daemon thread until stopped (the dispatcher, the report mailer)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)


class PeriodicScan:
    """Runs `scan` every `period_s` seconds in a daemon thread named `thread_name`.

    A store error in one scan is logged and the next scan retries; `stop` waits for the
    scan in progress. Subclasses set the three class attributes and implement `scan`.
    """

    thread_name = "imon-scan"
    #: what a scan does, for the log lines ("notification dispatcher", ...)
    label = "scan"
    period_s: float = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scan(self) -> None:
        """One pass; overridden."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread (once; a second call does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        logger.info("%s started, scanning every %g s", self.label, self.period_s)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current scan."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except SQLAlchemyError as error:  # the store is busy or down: next scan retries
                logger.error(
                    "%s: scan failed, retrying in %g s: %s", self.label, self.period_s, error
                )
            self._stop.wait(self.period_s)
