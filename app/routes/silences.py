"""POST /channels/{id}/silence: no message about a channel for a while."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from app.deps import ServicesDep, SessionDep
from app.notifications.wiring import link_signer
from store import notifications
from store.models import Channel
from store.types import utc_now
from store.vector import iso_z

router = APIRouter(tags=["notifications"])


@router.post("/channels/{channel_id}/silence")
def silence_channel(
    channel_id: int,
    token: str,
    session: SessionDep,
    services: ServicesDep,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> dict[str, Any]:
    """Silence a channel for `minutes`, with the token of its silence link."""
    if not link_signer(services.settings).check(f"silence:{channel_id}", token):
        raise HTTPException(403, detail="token: does not match this channel's silence link")
    if session.get(Channel, channel_id) is None:
        raise HTTPException(404, detail=f"channel {channel_id} does not exist")
    silence = notifications.silence_channel(
        session, channel_id, utc_now() + timedelta(minutes=minutes)
    )
    session.commit()
    return {"channel_id": channel_id, "until": iso_z(silence.until)}
