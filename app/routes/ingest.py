"""POST /ingest: plain JSON points, as `imon replay` sends them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from app.deps import ServicesDep, TenantDep
from app.schemas import IngestRequest, IngestResponse
from ingestion.pipeline import StoredChannel
from ingestion.push import validate_points

router = APIRouter(tags=["ingest"])

WaitQuery = Annotated[
    bool,
    Query(description="Detect the pushed points before answering (anomaly counts given)."),
]


@router.post("/ingest", response_model=IngestResponse, openapi_extra={"x-scope": "ingest"})
def ingest(
    body: IngestRequest, services: ServicesDep, tenant: TenantDep, wait: WaitQuery = False
) -> IngestResponse:
    """Store the valid points and report the invalid ones by index.

    Detection runs in the background stage (`detection: "queued"`, anomaly counts null)
    unless `wait=true` or IMON_PUSH_DETECTION=inline, which detect before answering.
    """
    limit = services.settings.max_points_per_push
    if len(body.points) > limit:
        raise HTTPException(
            413, detail=f"points: {len(body.points)} points in one push, at most {limit}"
        )
    checked = validate_points(body.points)
    stage = services.detection
    queued = stage is not None and not wait
    stored: list[StoredChannel] = []
    report = services.pipeline.ingest(
        body.satellite,
        checked.points,
        source="push",
        tenant=tenant,
        detect=not queued,
        queue=stored if queued else None,
    )
    if stage is not None and stored:
        stage.enqueue(stored)
    answer = report.as_dict() | {
        "received": len(body.points),
        "rejected": len(checked.errors),
        "errors": checked.errors[:100],
        "detection": "queued" if queued else "done",
    }
    if queued:
        answer |= {"anomalies_new": None, "anomalies_updated": None}
    return IngestResponse(**answer)
