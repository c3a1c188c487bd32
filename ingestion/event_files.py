"""Context events (telecommands, manoeuvres, eclipses) from JSON bodies and files.

Each item is checked on its own: a bad one is reported with its index and field,
and the good ones are kept.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion.errors import TelemetryFileError
from ingestion.push import parse_timestamp

MAX_SATELLITE_CHARS = 200
MAX_KIND_CHARS = 50
MAX_TEXT_CHARS = 2000
FIELDS = ("satellite", "ts", "kind", "text")


@dataclass(frozen=True)
class EventItem:
    """One valid context event, its time in UTC."""

    satellite: str
    ts: datetime
    kind: str
    text: str


@dataclass
class EventCheck:
    """Valid events, and one error per bad item: {index, field, reason}."""

    events: list[EventItem] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def validate_events(items: list[Any], satellite: str | None = None) -> EventCheck:
    """Check items {satellite, ts (ISO with zone), kind, text}; `satellite` fills a missing one."""
    check = EventCheck()
    for index, item in enumerate(items):
        try:
            check.events.append(_event(item, satellite))
        except _ItemError as error:
            check.errors.append({"index": index, "field": error.field, "reason": error.reason})
    return check


class _ItemError(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        self.field = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


def _text(item: dict[str, Any], name: str, limit: int, required: bool) -> str:
    raw = item.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _ItemError(name, "missing or blank")
        return ""
    if not isinstance(raw, str):
        raise _ItemError(name, f"expected a string, got {type(raw).__name__}")
    value = raw.strip()
    if len(value) > limit:
        raise _ItemError(name, f"{len(value)} characters; at most {limit} are allowed")
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise _ItemError(name, "contains control characters")
    return value


def _event(item: Any, satellite: str | None) -> EventItem:
    if not isinstance(item, dict):
        raise _ItemError("item", f"expected an object, got {type(item).__name__}")
    if satellite is not None and not item.get("satellite"):
        item = {**item, "satellite": satellite}
    name = _text(item, "satellite", MAX_SATELLITE_CHARS, required=True)
    if "ts" not in item or item["ts"] in (None, ""):
        raise _ItemError("ts", "missing")
    if not isinstance(item["ts"], str):
        raise _ItemError("ts", "expected an ISO 8601 string with a zone, e.g. 2024-03-02T10:00Z")
    try:
        ts = parse_timestamp(item["ts"])
    except ValueError as error:
        raise _ItemError("ts", str(error)) from None
    kind = _text(item, "kind", MAX_KIND_CHARS, required=True)
    text = _text(item, "text", MAX_TEXT_CHARS, required=False)
    return EventItem(satellite=name, ts=ts, kind=kind, text=text)


def read_event_file(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header ts,kind,text) or JSON file (a list, or {"events": [...]})."""
    if not path.is_file():
        raise TelemetryFileError(path, "no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("events"), list):
                data = data["events"]
            if not isinstance(data, list):
                raise TelemetryFileError(
                    path, 'expected a JSON list of events or {"events": [...]}'
                )
            return data
        if suffix in (".csv", ".txt"):
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = {"ts", "kind"} - set(reader.fieldnames or [])
                if missing:
                    raise TelemetryFileError(
                        path, f"missing column(s) {', '.join(sorted(missing))}; need ts,kind,text"
                    )
                return [{k: v for k, v in row.items() if k in FIELDS} for row in reader]
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        raise TelemetryFileError(path, f"unreadable: {error}") from None
    raise TelemetryFileError(path, f"unsupported extension {suffix!r}; use .csv or .json")
