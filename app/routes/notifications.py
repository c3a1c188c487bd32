"""GET /notifications: the log of messages, pending, delivered and dead-lettered."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.deps import SessionDep
from app.notifications.schemas import MessageOut
from store import notifications

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_model=list[MessageOut])
def list_messages(
    session: SessionDep,
    state: Literal["pending", "delivered", "dead"] | None = None,
    incident_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Messages of the outbox, newest first, with attempts and the last error."""
    items = notifications.list_messages(session, state=state, incident_id=incident_id, limit=limit)
    return [MessageOut.of(m) for m in items]
