"""GET /anomalies and GET /anomalies/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from app.deps import SessionDep
from app.schemas import AnomalyOut, AnomalyPage
from store import queries
from store.errors import NotFoundError

router = APIRouter(tags=["anomalies"])

KindParam = Literal[
    "spike", "level_shift", "variance_change", "trend_change", "flatline", "gap", "pattern"
]
SeverityParam = Literal["low", "medium", "high", "critical"]


def _require_zone(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            422, detail=f"{name}: {value.isoformat()} has no time zone; add Z or an offset"
        )


@router.get("/anomalies", response_model=AnomalyPage)
def list_anomalies(
    session: SessionDep,
    satellite: str | None = None,
    channel: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: KindParam | None = None,
    min_severity: SeverityParam | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AnomalyPage:
    """Anomalies overlapping [start, end], newest first, paginated."""
    _require_zone("start", start)
    _require_zone("end", end)
    if start and end and end < start:
        raise HTTPException(422, detail="end: must not be before start")
    items, total = queries.list_anomalies(
        session,
        satellite=satellite,
        channel=channel,
        start=start,
        end=end,
        kind=kind,
        min_severity=min_severity,
        limit=limit,
        offset=offset,
    )
    return AnomalyPage(
        items=[AnomalyOut.of(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyOut)
def get_anomaly(anomaly_id: int, session: SessionDep) -> AnomalyOut:
    """One anomaly by id."""
    try:
        return AnomalyOut.of(queries.get_anomaly(session, anomaly_id))
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
