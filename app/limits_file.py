"""Reading channel limits files (CSV or YAML) as operators keep them."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

FIELDS = ("satellite", "channel", "low", "high")


class LimitsFileError(ValueError):
    """A limits file cannot be read; the message names the row and field."""


def read_limits(path: Path) -> list[dict[str, Any]]:
    """Rows ``{satellite, channel, low, high}`` of a CSV or YAML limits file.

    CSV: a header with ``satellite,channel,low,high``. YAML: a list of mappings with those
    keys. ``low`` or ``high`` may be empty; at least one must be given.
    """
    if not path.is_file():
        raise LimitsFileError(f"{path} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]

        document = yaml.safe_load(path.read_text())
        if not isinstance(document, list):
            raise LimitsFileError(
                f"{path}: expected a YAML list of {{satellite, channel, low, high}}"
            )
        raw = document
    else:
        with path.open(newline="") as handle:
            raw = list(csv.DictReader(handle))
    return [_row(i + 1, item) for i, item in enumerate(raw)]


def _row(index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise LimitsFileError(f"row {index}: expected a mapping, got {item!r}")
    for name in ("satellite", "channel"):
        if not str(item.get(name) or "").strip():
            raise LimitsFileError(f"row {index}, field '{name}': missing")
    low, high = _number(index, "low", item.get("low")), _number(index, "high", item.get("high"))
    if low is None and high is None:
        raise LimitsFileError(f"row {index}: give low, high or both")
    if low is not None and high is not None and low >= high:
        raise LimitsFileError(f"row {index}: low {low} is not below high {high}")
    return {
        "satellite": str(item["satellite"]).strip(),
        "channel": str(item["channel"]).strip(),
        "low": low,
        "high": high,
    }


def _number(index: int, name: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LimitsFileError(f"row {index}, field '{name}': {value!r} is not a number") from None
    if not math.isfinite(number):
        raise LimitsFileError(f"row {index}, field '{name}': {value!r} is not finite")
    return number
