"""KairosDB-compatible push and query, so KairosDB clients work unchanged.

`POST /api/v1/datapoints` answers 204 when every point is stored and 400 with
`{"errors": [...]}` when some are bad (the good ones are still stored); the points are
detected by the background stage after the answer, or before it with `?wait=true` or
IMON_PUSH_DETECTION=inline;
`POST /api/v1/datapoints/query` answers KairosDB's `queries[].results[]` shape;
`GET /api/v1/metricnames` lists the metric names of the stored channels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.deps import ServicesDep, TenantDep
from app.runtime import Services
from ingestion.errors import PushError, PushTooLargeError
from ingestion.kairos_push import decode_body, parse_push, store_push
from ingestion.kairos_query import DatapointsQuery, metric_names, parse_query, run_query
from ingestion.pipeline import StoredChannel
from store.tenancy import scope_session

router = APIRouter(tags=["kairosdb"])


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PushTooLargeError([f"body: {declared} bytes, at most {limit}"])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PushTooLargeError([f"body: more than {limit} bytes"])
        chunks.append(chunk)
    return b"".join(chunks)


def _error(error: PushError) -> JSONResponse:
    status = 413 if isinstance(error, PushTooLargeError) else 400
    return JSONResponse({"errors": error.errors}, status_code=status)


async def _payload(request: Request, services: Services) -> Any:
    limit = services.settings.max_push_bytes
    raw = await _read_body(request, limit)
    return decode_body(raw, request.headers.get("content-encoding"), limit)


@router.post(
    "/api/v1/datapoints",
    status_code=204,
    response_class=Response,
    openapi_extra={"x-scope": "ingest"},
)
async def push_datapoints(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    wait: Annotated[bool, Query(description="Detect the points before answering.")] = False,
) -> Response:
    """Store KairosDB datapoints (JSON, optionally gzip); bad points are named in `errors`."""
    settings = services.settings
    try:
        parsed = parse_push(
            await _payload(request, services),
            default_satellite=settings.kairosdb_default_satellite,
            max_points=settings.max_points_per_push,
        )
    except PushError as error:
        return _error(error)
    stage = services.detection
    queue: list[StoredChannel] | None = [] if stage is not None and not wait else None
    result = await run_in_threadpool(
        store_push, services.pipeline, parsed, tenant=tenant, queue=queue
    )
    if stage is not None and queue:
        stage.enqueue(queue)
    if result.errors:
        body = {"errors": result.errors, "stored": result.accepted, "rejected": result.rejected}
        return JSONResponse(body, status_code=400)
    return Response(status_code=204)


def _answer(services: Services, tenant: str, query: DatapointsQuery) -> dict[str, Any]:
    with Session(services.engine) as session:
        scope_session(session, tenant)
        return run_query(session, query, max_points=services.settings.max_points_per_query)


@router.post("/api/v1/datapoints/query", openapi_extra={"x-scope": "read"})
async def query_datapoints(
    request: Request, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    """Raw points of the matching series in KairosDB's answer shape."""
    try:
        query = parse_query(await _payload(request, services), datetime.now(UTC))
        answer = await run_in_threadpool(_answer, services, tenant, query)
    except PushError as error:
        return _error(error)
    return JSONResponse(answer)


@router.get("/api/v1/metricnames")
def list_metric_names(
    services: ServicesDep, tenant: TenantDep, prefix: str | None = None
) -> dict[str, list[str]]:
    """Metric names of the tenant's channels, as KairosDB lists them."""
    with Session(services.engine) as session:
        scope_session(session, tenant)
        return {"results": metric_names(session, prefix)}
