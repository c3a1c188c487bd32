"""The sources file: a TOML list of sources the worker polls, parsed into small configs.

```toml
[[sources]]
type = "kairosdb"
name = "skyminer-sat2"
url = "http://127.0.0.1:8080"
metrics = ["SCH.M1", "SCH.M15"]
tags = { satellite = "SAT2" }
interval_s = 60
chunk_hours = 24
overlap_s = 300
start = 2024-05-01T00:00:00Z
```

Every error names the file, the entry and the key.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion.errors import SourceConfigError

DEFAULT_FILE = Path("sources.toml")
SOURCE_TYPES = ("kairosdb",)


@dataclass(frozen=True)
class SeriesConfig:
    """One KairosDB series to poll: a metric (or a glob over metric names) and a tag set."""

    metric: str
    tags: tuple[tuple[str, str], ...]

    @property
    def tag_dict(self) -> dict[str, str]:
        """The tags as a plain dict."""
        return dict(self.tags)


@dataclass(frozen=True)
class KairosDBSourceConfig:
    """A KairosDB (or Skyminer) server polled over its REST API."""

    name: str
    url: str
    series: tuple[SeriesConfig, ...]
    satellite_tag: str = "satellite"
    satellite: str | None = None
    interval_s: float = 60.0
    chunk_hours: float = 24.0
    overlap_s: float = 300.0
    start: datetime | None = None
    timeout_s: float = 30.0
    retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)

    def satellite_of(self, series: SeriesConfig) -> str:
        """The satellite a series belongs to: the configured name, else its satellite tag."""
        if self.satellite is not None:
            return self.satellite
        return series.tag_dict[self.satellite_tag]


_NUMBERS: dict[str, tuple[float, float]] = {
    # key: (exclusive lower bound, inclusive upper bound)
    "interval_s": (0.0, 7 * 86400.0),
    "chunk_hours": (0.0, 24 * 366.0),
    "overlap_s": (-1e-9, 30 * 86400.0),
    "timeout_s": (0.0, 3600.0),
    "backoff_s": (-1e-9, 3600.0),
    "backoff_max_s": (-1e-9, 3600.0),
}
_KNOWN = {"type", "name", "url", "metrics", "tags", "satellite_tag", "satellite", "start"}
_KNOWN |= set(_NUMBERS) | {"retries", "headers"}


def resolve_sources_file(configured: Path | None, cwd: Path | None = None) -> Path | None:
    """The sources file to read: the configured one, else `sources.toml` if present."""
    if configured is not None:
        if not configured.is_file():
            raise SourceConfigError(str(configured), "IMON_SOURCES_FILE: no such file")
        return configured
    default = (cwd or Path.cwd()) / DEFAULT_FILE
    return default if default.is_file() else None


def load_sources_file(path: Path) -> list[KairosDBSourceConfig]:
    """Read and check a sources file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(str(path), f"not valid TOML: {error}") from None
    except OSError as error:
        raise SourceConfigError(str(path), f"cannot be read: {error.strerror}") from None
    return parse_sources(document, str(path))


def parse_sources(document: dict[str, Any], origin: str = "sources") -> list[KairosDBSourceConfig]:
    """Source configs from a parsed TOML document."""
    unknown = sorted(set(document) - {"sources"})
    if unknown:
        raise SourceConfigError(origin, f"{unknown[0]}: unknown key; expected [[sources]]")
    entries = document.get("sources", [])
    if not isinstance(entries, list):
        raise SourceConfigError(origin, "sources: expected an array of tables [[sources]]")
    configs = [_parse_entry(entry, f"{origin}: sources[{i}]") for i, entry in enumerate(entries)]
    names = [c.name for c in configs]
    for position, name in enumerate(names):
        if name in names[:position]:
            raise SourceConfigError(f"{origin}: sources[{position}]", f"name: {name!r} repeated")
    return configs


def _parse_entry(entry: Any, where: str) -> KairosDBSourceConfig:
    if not isinstance(entry, dict):
        raise SourceConfigError(where, "expected a table")
    unknown = sorted(set(entry) - _KNOWN)
    if unknown:
        raise SourceConfigError(where, f"{unknown[0]}: unknown key")
    kind = entry.get("type")
    if kind not in SOURCE_TYPES:
        raise SourceConfigError(where, f"type: expected one of {SOURCE_TYPES}, got {kind!r}")
    name = _text(entry, "name", where)
    url = _text(entry, "url", where)
    if not url.startswith(("http://", "https://")):
        raise SourceConfigError(where, f"url: expected http:// or https://, got {url!r}")
    satellite_tag = _text(entry, "satellite_tag", where, "satellite")
    satellite = _text(entry, "satellite", where, None) if "satellite" in entry else None
    series = _series(entry, where, satellite_tag, satellite)
    numbers = {key: _number(entry, key, where) for key in _NUMBERS if key in entry}
    retries = entry.get("retries", 4)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise SourceConfigError(where, f"retries: expected an integer 0..20, got {retries!r}")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise SourceConfigError(where, "headers: expected a table of strings")
    return KairosDBSourceConfig(
        name=name,
        url=url.rstrip("/"),
        series=series,
        satellite_tag=satellite_tag,
        satellite=satellite,
        start=_start(entry, where),
        retries=retries,
        headers=dict(headers),
        **numbers,
    )


def _text(entry: dict[str, Any], key: str, where: str, default: Any = ...) -> Any:
    if key not in entry:
        if default is ...:
            raise SourceConfigError(where, f"{key}: missing")
        return default
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise SourceConfigError(where, f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _number(entry: dict[str, Any], key: str, where: str) -> float:
    value = entry[key]
    low, high = _NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise SourceConfigError(
            where, f"{key}: expected a number in ({max(low, 0.0):g}, {high:g}], got {value!r}"
        )
    return float(value)


def _start(entry: dict[str, Any], where: str) -> datetime | None:
    value = entry.get("start")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SourceConfigError(where, f"start: {value!r} is not ISO 8601") from None
    if not isinstance(value, datetime):
        raise SourceConfigError(where, f"start: expected a date-time, got {value!r}")
    if value.tzinfo is None:
        raise SourceConfigError(where, "start: has no time zone; add Z or an offset")
    return value


def _series(
    entry: dict[str, Any], where: str, satellite_tag: str, satellite: str | None
) -> tuple[SeriesConfig, ...]:
    metrics = entry.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise SourceConfigError(where, "metrics: expected a non-empty array of metric names")
    for position, metric in enumerate(metrics):
        if not isinstance(metric, str) or not metric.strip():
            raise SourceConfigError(where, f"metrics[{position}]: expected a non-empty string")
    tags = entry.get("tags", {})
    if not isinstance(tags, dict):
        raise SourceConfigError(where, 'tags: expected a table such as {satellite = "SAT2"}')
    choices: list[list[tuple[str, str]]] = []
    for key, value in sorted(tags.items()):
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise SourceConfigError(
                where, f"tags.{key}: expected a string or an array of strings, got {value!r}"
            )
        choices.append([(key, v) for v in values])
    if satellite is None and satellite_tag not in tags:
        raise SourceConfigError(
            where, f"tags.{satellite_tag}: missing; give the satellite tag or `satellite`"
        )
    return tuple(
        SeriesConfig(metric.strip(), combination)
        for metric in metrics
        for combination in itertools.product(*choices)
    )
