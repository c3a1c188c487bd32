"""The background scan loop shared by the dispatcher and the report mailer."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy.exc import OperationalError

from app.notifications.periodic import PeriodicScan


class _Flaky(PeriodicScan):
    thread_name = "imon-test-scan"
    label = "test scan"
    period_s = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.third = threading.Event()

    def scan(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        if self.calls >= 3:
            self.third.set()


def test_a_store_error_is_logged_and_the_next_scan_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scan = _Flaky()
    with caplog.at_level(logging.ERROR, logger="app.notifications.periodic"):
        scan.start()
        scan.start()  # a second start does not add a thread
        assert scan.third.wait(5), "the loop stopped after the failing scan"
        scan.stop()
    names = [t.name for t in threading.enumerate()]
    assert "imon-test-scan" not in names
    assert "test scan: scan failed" in caplog.text and "database is locked" in caplog.text
    calls = scan.calls
    assert calls >= 3
    threading.Event().wait(0.05)
    assert scan.calls == calls, "a stopped scan went on running"
