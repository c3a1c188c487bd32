"""GET /tenants/me/export and DELETE /tenants/me: a tenant's admin takes or erases its data."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from app.deps import PrincipalDep, ServicesDep, TenantDep
from app.tenant_ops import delete_tenant, export_json, export_parquet
from store.types import utc_now

logger = logging.getLogger(__name__)
router = APIRouter(tags=["tenants"])

_EXPORT_CONTENT = {
    "application/json": {"schema": {"type": "object"}},
    "application/zip": {"schema": {"type": "string", "format": "binary"}},
}


class TenantDeletion(BaseModel):
    """What `DELETE /tenants/me` removed."""

    tenant: str
    rows: dict[str, int] = Field(description="Rows deleted per table.")
    index_entries: int = Field(description="Anomaly and annotation entries of the index.")
    knowledge_passages: int = Field(description="Passages of the tenant's own documents.")
    files: list[str] = Field(description="Report files deleted under IMON_HOME.")


@router.get(
    "/tenants/me/export",
    openapi_extra={"x-scope": "admin"},
    response_model=None,
    responses={200: {"content": _EXPORT_CONTENT, "description": "The tenant's data."}},
)
def export_tenant(
    services: ServicesDep,
    principal: PrincipalDep,
    format: Literal["json", "parquet"] = "json",
) -> StreamingResponse | FileResponse:
    """Every row of the key's tenant: JSON, or a zip of one Parquet file per table.

    Satellites, channels, points, anomalies, annotations, events, incidents, messages,
    subscriptions (without their webhook secrets), maintenance windows, silences,
    channel models and limits, conversations and API keys (without their hashes).
    """
    tenant = principal.tenant
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    logger.info("export of tenant %s (%s) by key %s", tenant, format, principal.key_id)
    if format == "json":
        return StreamingResponse(
            export_json(services.engine, tenant),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="imon-{stamp}.json"'},
        )
    handle = tempfile.NamedTemporaryFile(prefix="imon-export-", suffix=".zip", delete=False)
    handle.close()
    target = Path(handle.name)
    try:
        export_parquet(services.engine, tenant, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=f"imon-{stamp}.zip",
        background=BackgroundTask(target.unlink, missing_ok=True),
    )


@router.delete("/tenants/me", response_model=TenantDeletion)
def delete_my_tenant(
    services: ServicesDep,
    tenant: TenantDep,
    confirm: Annotated[
        str, Query(max_length=100, description="The tenant's name, to confirm the deletion.")
    ],
) -> TenantDeletion:
    """Delete every row, index entry and report file of the key's tenant, keys included."""
    if confirm != tenant:
        raise HTTPException(
            422, detail="confirm: does not match; give the tenant's own name to delete its data"
        )
    done = delete_tenant(
        services.engine,
        tenant,
        home=services.settings.home.resolve(),
        index=services.index,
        knowledge=services.knowledge,
    )
    services.pipeline.forget_detectors(done.channel_ids)
    return TenantDeletion(
        tenant=done.tenant,
        rows=done.rows,
        index_entries=done.index_entries,
        knowledge_passages=done.knowledge_passages,
        files=done.files,
    )
