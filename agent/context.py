"""What every tool receives first: the store, the index and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ToolContext:
    """Dependencies of the agent tools.

    Attributes:
        engine: SQLAlchemy engine of the store.
        index: an object with ``similar(text, limit, exclude_id)`` (``store.vector.
            AnomalyIndex``), or None when no vector index is available.
        detector_config: a ``detection.DetectorConfig`` for the ``detect`` tool, or None
            for the detectors' defaults.
        now: returns the current time, timezone-aware UTC; injected so relative periods
            ("last hour") are deterministic in tests.
        tenant: only satellites of this tenant are visible to the tools.
        knowledge: an object with ``search(text, limit)`` (``store.knowledge_index.
            KnowledgeIndex``) over operator documents, or None.
    """

    engine: Engine
    index: Any | None = None
    detector_config: Any | None = None
    now: Callable[[], datetime] = field(default=_utc_now)
    tenant: str = "default"
    knowledge: Any | None = None

    def utc_now(self) -> datetime:
        """``now()``, checked to be timezone-aware and converted to UTC."""
        value = self.now()
        if value.tzinfo is None:
            raise ValueError(
                f"ToolContext.now returned a naive datetime {value.isoformat()}; "
                "return a timezone-aware UTC datetime"
            )
        return value.astimezone(UTC)
