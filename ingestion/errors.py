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


class SourceConfigError(IngestionError, ValueError):
    """The sources file is invalid; the message names the file, the key and the reason.

    For example ``sources.toml: sources[1].chunk_hours: expected a positive number, got 'x'``.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class SourceError(IngestionError):
    """A source could not deliver; the worker records it and polls again later."""


class KairosDBUnavailableError(SourceError):
    """KairosDB did not answer, or answered 5xx, after every retry."""


class KairosDBQueryError(SourceError):
    """KairosDB refused a request (4xx); carries the server's own messages."""

    def __init__(self, status: int, messages: list[str], url: str) -> None:
        self.status = status
        self.messages = messages
        self.url = url
        super().__init__(f"{url} answered {status}: {'; '.join(messages) or 'no message'}")


class KairosDBResponseError(SourceError):
    """KairosDB answered 200 with a body that is not a query result."""


class PushError(IngestionError):
    """A KairosDB-style push or query cannot be processed as a whole."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class PushFormatError(PushError, ValueError):
    """The body is not valid JSON, not gzip, or not the KairosDB shape."""


class PushTooLargeError(PushError):
    """The body or the number of points is over the configured limit."""
