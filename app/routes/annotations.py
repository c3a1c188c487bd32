"""POST and GET /anomalies/{id}/annotations: operator feedback."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.deps import ServicesDep, SessionDep, TenantDep
from app.schemas import AnnotationOut
from store.annotations import list_annotations, record_annotation
from store.errors import NotFoundError
from store.models import AnnotationCreate

router = APIRouter(tags=["annotations"])


@router.post("/anomalies/{anomaly_id}/annotations", response_model=AnnotationOut, status_code=201)
def create_annotation(
    anomaly_id: int, body: AnnotationCreate, services: ServicesDep, tenant: TenantDep
) -> AnnotationOut:
    """Annotate an anomaly; a label (confirmed, false_positive, expected) sets its status."""
    try:
        record = record_annotation(
            services.engine, anomaly_id, body, services.index, tenant=tenant
        )
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    return AnnotationOut.of(record)


@router.get("/anomalies/{anomaly_id}/annotations", response_model=list[AnnotationOut])
def get_annotations(anomaly_id: int, session: SessionDep) -> list[AnnotationOut]:
    """Annotations of an anomaly, oldest first."""
    try:
        return [AnnotationOut.of(a) for a in list_annotations(session, anomaly_id)]
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
