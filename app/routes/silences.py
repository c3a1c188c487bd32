"""GET and POST /channels/{id}/silence: no message about a channel for a while."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app.deps import ServicesDep
from app.notifications.confirm import TOKEN_ROUTE, action_url, page, wants_html
from app.notifications.wiring import link_signer
from store import notifications
from store.models import Channel, Satellite
from store.types import utc_now
from store.vector import iso_z

router = APIRouter(tags=["notifications"])


Minutes = Annotated[int, Query(ge=1, le=7 * 24 * 60)]


@router.get(
    "/channels/{channel_id}/silence", response_class=HTMLResponse, openapi_extra=TOKEN_ROUTE
)
def silence_page(
    channel_id: int, token: str, services: ServicesDep, minutes: Minutes = 60
) -> HTMLResponse:
    """The silence link of a message: which channel, for how long, and a button."""
    title = f"Silence channel {channel_id}"
    if not link_signer(services.settings).check(f"silence:{channel_id}", token):
        return page(title, error="This link is not valid for this channel.", status=403)
    with Session(services.engine) as session:
        channel = session.get(Channel, channel_id)
        satellite = session.get(Satellite, channel.satellite_id) if channel else None
    if channel is None or satellite is None:
        return page(title, error=f"Channel {channel_id} does not exist.", status=404)
    return page(
        f"Silence {channel.name}",
        f"No message about this channel for {minutes} minutes; anomalies are still recorded.",
        facts=[("Satellite", satellite.name), ("Channel", channel.name)],
        action=action_url(f"/channels/{channel_id}/silence", minutes=minutes, token=token),
        button=f"Silence for {minutes} minutes",
    )


@router.post(
    "/channels/{channel_id}/silence",
    openapi_extra=TOKEN_ROUTE,
    responses={200: {"content": {"text/html": {}}}},
)
def silence_channel(
    channel_id: int,
    token: str,
    request: Request,
    services: ServicesDep,
    minutes: Minutes = 60,
) -> Any:
    """Silence a channel for `minutes`, with the token of its silence link (no API key)."""
    if not link_signer(services.settings).check(f"silence:{channel_id}", token):
        raise HTTPException(403, detail="token: does not match this channel's silence link")
    with Session(services.engine) as session:
        if session.get(Channel, channel_id) is None:
            raise HTTPException(404, detail=f"channel {channel_id} does not exist")
        silence = notifications.silence_channel(
            session, channel_id, utc_now() + timedelta(minutes=minutes)
        )
        session.commit()
        until = iso_z(silence.until)
    if wants_html(request):
        response: Response = page(
            f"Channel {channel_id} silenced", f"No message about it until {until}.", done=True
        )
        return response
    return {"channel_id": channel_id, "until": until}
