"""GET /channels/{id}/model and GET /reports/{satellite}: trained models and reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.errors import AgentError
from agent.tools_models import channel_model
from app.deps import ServicesDep, TenantDep
from app.reports import ReportError, build_report, to_pdf
from store.errors import NotFoundError

router = APIRouter(tags=["models"])


@router.get("/channels/{channel_id}/model")
def get_channel_model(channel_id: int, services: ServicesDep, tenant: TenantDep) -> dict[str, Any]:
    """The channel's active model (parameters, training range, quality) and its versions."""
    try:
        return channel_model(services.tool_context(tenant), channel_id=channel_id)
    except AgentError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/reports/{satellite}", response_class=HTMLResponse)
async def get_report(
    satellite: str,
    services: ServicesDep,
    tenant: TenantDep,
    period: str = Query("7d", description="How far back: e.g. 24h, 7d, 2w."),
    format: str = Query("html", pattern="^(html|pdf)$", description="html or pdf"),
) -> Response:
    """The satellite's report over the period (HTML, or PDF when WeasyPrint is installed)."""
    try:
        report = await run_in_threadpool(
            build_report, services.tool_context(tenant), satellite, period
        )
    except ReportError as error:
        raise HTTPException(422, str(error)) from None
    except NotFoundError as error:
        raise HTTPException(404, str(error)) from None
    if format == "pdf":
        pdf = await run_in_threadpool(to_pdf, report.html)
        if pdf is None:
            raise HTTPException(501, "PDF needs WeasyPrint (pip install weasyprint); ask for html")
        return Response(pdf, media_type="application/pdf")
    return HTMLResponse(report.html)
