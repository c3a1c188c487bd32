"""GET /channels."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import SessionDep
from app.schemas import ChannelOut
from store import queries

router = APIRouter(tags=["channels"])


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(session: SessionDep, satellite: str | None = None) -> list[ChannelOut]:
    """Channels with their point counts and time ranges."""
    return [ChannelOut.of(view) for view in queries.list_channels(session, satellite)]
