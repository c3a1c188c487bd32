"""GET /channels/{id}/series (downsampled for display) and GET /channels/{id}/plot.png."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from app.deps import SessionDep
from app.plots import channel_plot
from app.schemas import SeriesOut, SeriesPointOut
from store.errors import NotFoundError
from store.series import channel_series

router = APIRouter(tags=["channels"])


def _zoned(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            422, detail=f"{name}: {value.isoformat()} has no time zone; add Z or an offset"
        )
    return value


@router.get("/channels/{channel_id}/series", response_model=SeriesOut)
def get_series(
    channel_id: int,
    session: SessionDep,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: Annotated[int, Query(ge=10, le=20_000)] = 1000,
) -> SeriesOut:
    """Points over [start, end] (default: all), as min/max per bucket beyond `max_points`."""
    try:
        header, series = channel_series(
            session, channel_id, _zoned("start", start), _zoned("end", end), max_points
        )
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    except ValueError as error:
        raise HTTPException(422, detail=f"end: {error}") from None
    return SeriesOut(
        channel_id=header.id,
        satellite=header.satellite,
        channel=header.name,
        unit=header.unit,
        start=series.start,
        end=series.end,
        bucket_s=series.bucket_s,
        total_points=series.total,
        points=[
            SeriesPointOut(ts=ts, min=low, max=high, count=count)
            for ts, low, high, count in series.rows()
        ],
    )


@router.get(
    "/channels/{channel_id}/plot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_plot(
    channel_id: int,
    session: SessionDep,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Response:
    """PNG plot of a channel over [start, end] (UTC axis), anomaly windows shaded."""
    try:
        png = channel_plot(session, channel_id, _zoned("start", start), _zoned("end", end))
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    except ValueError as error:
        raise HTTPException(422, detail=f"end: {error}") from None
    return Response(content=png, media_type="image/png")
