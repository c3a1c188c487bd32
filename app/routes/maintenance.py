"""POST and GET /maintenance: windows during which no message is sent."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.deps import SessionDep, TenantDep
from app.notifications.schemas import MaintenanceCreate, MaintenanceOut
from store import notifications
from store.errors import NotFoundError
from store.notifications_models import MaintenanceWindow

router = APIRouter(tags=["notifications"])


@router.post("/maintenance", response_model=MaintenanceOut, status_code=201)
def add_maintenance(
    body: MaintenanceCreate, session: SessionDep, tenant: TenantDep
) -> MaintenanceOut:
    """Declare a maintenance window: anomalies are still recorded, nobody is messaged."""
    try:
        satellite = notifications.find_satellite(session, tenant, body.satellite)
    except NotFoundError as error:
        raise HTTPException(422, detail=f"satellite: {error}") from None
    assert satellite.id is not None
    window = notifications.add_maintenance(
        session,
        MaintenanceWindow(
            satellite_id=satellite.id, start=body.start, end=body.end, reason=body.reason
        ),
    )
    session.commit()
    return MaintenanceOut.of(window)


@router.get("/maintenance", response_model=list[MaintenanceOut])
def list_maintenance(
    session: SessionDep, tenant: TenantDep, satellite: str | None = None
) -> list[MaintenanceOut]:
    """Maintenance windows, of one satellite or of all."""
    satellite_id = None
    if satellite is not None:
        try:
            satellite_id = notifications.find_satellite(session, tenant, satellite).id
        except NotFoundError as error:
            raise HTTPException(404, detail=str(error)) from None
    return [MaintenanceOut.of(w) for w in notifications.list_maintenance(session, satellite_id)]
