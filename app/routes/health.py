"""GET /health: is the service up, and what is the worker doing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlmodel import Session

from app.deps import ServicesDep
from store.models import Anomaly, Point
from store.vector import iso_z

router = APIRouter(tags=["health"])


@router.get("/health", openapi_extra={"x-public": True})
def health(services: ServicesDep) -> dict[str, Any]:
    """Liveness plus counts and per-source worker state (public: no key needed)."""
    worker = services.worker
    now = datetime.now(UTC)
    sources = []
    if worker is not None:
        for status in worker.status.values():
            sources.append(
                {
                    "name": status.name,
                    "polls": status.polls,
                    "interval_s": status.interval_s,
                    "points": status.points,
                    "rejected": status.rejected,
                    "anomalies": status.anomalies,
                    "errors": status.errors,
                    "last_poll": iso_z(status.last_poll) if status.last_poll else None,
                    "last_ts": iso_z(status.last_ts) if status.last_ts else None,
                    "lag_s": status.lag_s(now),
                    "last_error": status.last_error,
                }
            )
    with Session(services.engine) as session:
        points = session.scalar(select(func.count()).select_from(Point))
        anomalies = session.scalar(select(func.count()).select_from(Anomaly))
    return {
        "status": "ok",
        "database": services.engine.dialect.name,
        "points": points,
        "anomalies": anomalies,
        "started_at": iso_z(services.started_at),
        "sources": sources,
    }
