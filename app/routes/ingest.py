"""POST /ingest: plain JSON points, as `imon replay` sends them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.deps import ServicesDep, TenantDep
from app.schemas import IngestRequest, IngestResponse
from ingestion.push import validate_points

router = APIRouter(tags=["ingest"])


@router.post("/ingest", response_model=IngestResponse, openapi_extra={"x-scope": "ingest"})
def ingest(body: IngestRequest, services: ServicesDep, tenant: TenantDep) -> IngestResponse:
    """Store the valid points, detect on them, and report the invalid ones by index."""
    limit = services.settings.max_points_per_push
    if len(body.points) > limit:
        raise HTTPException(
            413, detail=f"points: {len(body.points)} points in one push, at most {limit}"
        )
    checked = validate_points(body.points)
    report = services.pipeline.ingest(body.satellite, checked.points, source="push", tenant=tenant)
    report.received = len(body.points)
    report.rejected = len(checked.errors)
    report.errors = checked.errors[:100]
    return IngestResponse(**report.as_dict())
