"""Errors raised by the ingestion package.

Bad *records* (one row, one value) are not exceptions: readers return them as
:class:`ingestion.files.RowError` next to the good data. The exceptions below are
for problems that stop a whole input: an unreadable or empty file, an unknown
format, a missing time axis, or an invalid option given by the caller.
"""

from __future__ import annotations

from pathlib import Path


class IngestionError(Exception):
    """Base class of the ingestion package's errors."""


class TelemetryFileError(IngestionError):
    """A telemetry file cannot be read as a whole.

    The message names the file and the reason, e.g.
    ``data.csv: no time column found (looked for timestamp, time, ...)``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InvalidOptionError(TelemetryFileError, ValueError):
    """An option given with the file (time zone, unit, start, cadence, columns) is invalid."""


class EmptyFileError(TelemetryFileError):
    """The file is empty or has a header but no data rows."""


class UnsupportedFormatError(TelemetryFileError):
    """The file's extension is not one of the supported formats."""


class MissingTimeError(TelemetryFileError):
    """No time axis: no time column was found and no ``start``/``cadence`` were given."""


class SimulatorError(IngestionError, ValueError):
    """The simulator was called with invalid arguments (naive datetimes, end before start)."""
