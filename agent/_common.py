"""Helpers shared by the tool modules: argument parsing, name checks, JSON shapes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlmodel import Session

from agent.catalog import CatalogEntry, catalog
from agent.errors import AmbiguousNameError, InvalidArgumentError, NotFoundError
from store import queries
from store.errors import NotFoundError as StoreNotFoundError
from store.queries import SEVERITY_RANK, AnomalyView
from store.vector import iso_z

#: Kinds of anomaly the detectors report (see DESIGN.md, Core records).
KINDS = ("spike", "level_shift", "variance_change", "trend_change", "flatline", "gap", "pattern")
SEVERITIES = tuple(SEVERITY_RANK)


def parse_time(value: str | datetime | None, name: str) -> datetime | None:
    """A tool's time argument (ISO 8601 string or aware datetime) as UTC, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidArgumentError(
                f"{name}={value!r} is not an ISO 8601 date-time; pass e.g. "
                "'2024-03-02T14:00:00Z' (use resolve_period for words like 'yesterday')"
            ) from None
    if value.tzinfo is None:
        raise InvalidArgumentError(f"{name}={value.isoformat()} has no time zone; add 'Z' for UTC")
    return value.astimezone(UTC)


def check_choice(value: str | None, name: str, allowed: Sequence[str]) -> str | None:
    """``value`` when it is one of ``allowed`` (or None), else a clear error."""
    if value is None or value in allowed:
        return value
    raise InvalidArgumentError(f"{name}={value!r} is not one of {', '.join(allowed)}")


def check_satellite(names: Sequence[str], name: str) -> str:
    """The satellite name as stored, or NotFoundError naming the closest ones."""
    if name in names:
        return name
    raise NotFoundError(f"unknown satellite '{name}'{_suggest(name, names)}")


def find_channels(
    entries: Sequence[CatalogEntry], channel: str, satellite: str | None
) -> list[CatalogEntry]:
    """Channels called ``channel`` (on ``satellite`` when given), or NotFoundError."""
    pool = [e for e in entries if satellite is None or e.satellite == satellite]
    found = [e for e in pool if e.channel == channel]
    if found:
        return found
    where = f" on satellite '{satellite}'" if satellite else ""
    names = sorted({e.channel for e in pool})
    raise NotFoundError(f"unknown channel '{channel}'{where}{_suggest(channel, names)}")


def one_channel(
    entries: Sequence[CatalogEntry],
    channel: str | None,
    satellite: str | None,
    channel_id: int | None,
) -> CatalogEntry:
    """Exactly one channel, by id or by name (and satellite when the name is shared)."""
    if channel_id is not None:
        for entry in entries:
            if entry.channel_id == channel_id:
                return entry
        raise NotFoundError(f"channel {channel_id} does not exist")
    if channel is None:
        raise InvalidArgumentError("give a channel name or a channel_id")
    found = find_channels(entries, channel, satellite)
    if len(found) > 1:
        sats = ", ".join(e.satellite for e in found)
        raise AmbiguousNameError(
            f"channel '{channel}' exists on several satellites ({sats}); name the satellite"
        )
    return found[0]


def _suggest(name: str, names: Sequence[str]) -> str:
    if not names:
        return "; there are none"
    close = [m[0] for m in process.extract(name, names, scorer=fuzz.WRatio, limit=3)]
    return f"; did you mean {', '.join(close)}?"


def anomaly_dict(view: AnomalyView) -> dict[str, Any]:
    """An anomaly as JSON-ready data; dates are ISO 8601 UTC strings with Z."""
    return {
        "id": view.id,
        "satellite": view.satellite,
        "channel": view.channel,
        "channel_id": view.channel_id,
        "start": iso_z(view.start),
        "end": iso_z(view.end),
        "ongoing": view.ongoing,
        "kind": view.kind,
        "severity": view.severity,
        "score": json_ready(view.score),
        "detector": view.detector,
        "status": view.status,
        "params": json_ready(view.params),
    }


def json_ready(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN/inf to None, dates to ISO Z."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value  # the common plain values first (exact types: numpy's float64 is a float)
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime):
        return iso_z(value.astimezone(UTC))
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def visible_anomaly(session: Session, tenant: str, anomaly_id: int) -> AnomalyView:
    """The anomaly, if it exists and belongs to ``tenant``, else NotFoundError."""
    try:
        view: AnomalyView | None = queries.get_anomaly(session, int(anomaly_id))
    except StoreNotFoundError:
        view = None
    if view is None or view.channel_id not in {e.channel_id for e in catalog(session, tenant)}:
        raise NotFoundError(f"there is no anomaly with id {anomaly_id}")
    return view
