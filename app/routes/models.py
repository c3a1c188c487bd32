"""Trained models (GET /channels/{id}/model, POST /models/train,
POST /channels/{id}/model/train) and reports (GET /reports/{satellite})."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.errors import AgentError
from agent.tools_models import channel_model
from app.deps import ServicesDep, TenantDep
from app.reports import ReportError, build_report, to_pdf
from app.runtime import Services
from ingestion.training import TrainingBusyError, TrainResult, check_normal_range, train_channels
from store.errors import NotFoundError

router = APIRouter(tags=["models"])

_START = Query(
    None,
    description="Start of a period the operator vouches for as normal (ISO 8601 with a "
    "timezone): the model is trained on it and it becomes the channel's reference.",
)
_END = Query(None, description="End of that normal period (ISO 8601 with a timezone).")


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


@router.post("/models/train", openapi_extra={"x-scope": "admin"})
async def train_models(
    services: ServicesDep,
    tenant: TenantDep,
    satellite: str | None = Query(None, description="Only this satellite."),
    channel: str | None = Query(None, description="Only channels of this name."),
    reference_start: datetime | None = _START,
    reference_end: datetime | None = _END,
) -> dict[str, Any]:
    """Train the tenant's matching channels now (admin); 409 while a run is in progress.

    With ``reference_start`` and ``reference_end``, on that normal period only (it
    becomes the channels' reference, vouched for); 422 for a bad range.
    """
    normal = _normal_range(reference_start, reference_end)
    return await _train(
        services, tenant, satellite=satellite, channel=channel, normal_range=normal
    )


@router.post("/channels/{channel_id}/model/train", openapi_extra={"x-scope": "admin"})
async def train_channel_model(
    channel_id: int,
    services: ServicesDep,
    tenant: TenantDep,
    reference_start: datetime | None = _START,
    reference_end: datetime | None = _END,
) -> dict[str, Any]:
    """Train one channel now (admin); 404 for an unknown channel, 409 while a run is on."""
    normal = _normal_range(reference_start, reference_end)
    answer = await _train(services, tenant, channel_id=channel_id, normal_range=normal)
    if not answer["results"]:
        raise HTTPException(404, f"channel {channel_id} does not exist")
    return answer


def _normal_range(
    start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    try:
        return check_normal_range(start, end)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None


async def _train(services: Services, tenant: str, **selection: Any) -> dict[str, Any]:
    try:
        results: list[TrainResult] = await run_in_threadpool(
            lambda: train_channels(
                services.engine,
                services.settings.home.resolve(),
                tenant=tenant,
                keep=services.settings.model_versions_kept,
                **selection,
            )
        )
    except TrainingBusyError as error:
        raise HTTPException(409, f"training: {error}") from None
    trained = [r.channel_id for r in results if r.version is not None]
    services.pipeline.forget_detectors(trained)
    return {
        "trained": len(trained),
        "results": [
            {
                "channel_id": r.channel_id,
                "satellite": r.satellite,
                "channel": r.channel,
                "version": r.version,
                "params": r.params,
                "quality": r.quality,
                "error": r.error,
            }
            for r in results
        ],
    }
