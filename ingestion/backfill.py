"""Re-reading a time range of a configured source through the pipeline.

A backfill is idempotent: points already stored with the same value change nothing,
new ones are added and detected, changed values are counted as corrections and their
stretch is re-checked by the detectors (see `Pipeline.ingest`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestion.pipeline import Pipeline

logger = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    """What one backfill read and changed."""

    source: str
    start: datetime
    end: datetime
    batches: int = 0
    received: int = 0
    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: int = 0
    anomalies_new: int = 0
    anomalies_updated: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (ISO 8601 dates)."""
        out = dict(self.__dict__)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def backfill(pipeline: Pipeline, source: Any, start: datetime, end: datetime) -> BackfillReport:
    """Read [start, end] from `source` (one with `read_range`) and ingest it.

    Raises ValueError when the range is empty or a bound has no time zone.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a time zone, e.g. 2024-05-01T00:00:00Z")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    if not callable(getattr(source, "read_range", None)):
        raise ValueError(f"source {source.name!r} cannot re-read a range (no read_range)")

    report = BackfillReport(source=source.name, start=start, end=end)
    for batch in source.read_range(start, end):
        report.batches += 1
        report.rejected += batch.rejected
        if batch.points.empty:
            continue
        done = pipeline.ingest(
            batch.satellite, batch.points, source=source.name, specs=batch.specs
        )
        report.received += done.received
        report.inserted += done.inserted
        report.corrected += done.corrected
        report.unchanged += done.unchanged
        report.anomalies_new += done.anomalies_new
        report.anomalies_updated += done.anomalies_updated
    logger.info(
        "backfill of %s [%s, %s]: %d received, %d new, %d corrected, %d rejected",
        source.name,
        start.isoformat(),
        end.isoformat(),
        report.received,
        report.inserted,
        report.corrected,
        report.rejected,
    )
    return report
