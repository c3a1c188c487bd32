"""Server-sent events of new and changed incidents and of new messages.

The stream reads the store (the outbox and the incident table), so it shows what any
writer recorded; each client polls every `poll_s` seconds while connected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.notifications.schemas import IncidentOut, MessageOut
from store import incidents, notifications
from store.types import utc_now

logger = logging.getLogger(__name__)


class _Clients:
    """How many streams are open now (shown in /metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, delta: int) -> None:
        with self._lock:
            self.count += delta


CLIENTS = _Clients()


@dataclass
class _Cursor:
    message_id: int
    incidents_since: datetime


def _start(engine: Engine) -> _Cursor:
    with Session(engine) as session:
        return _Cursor(notifications.last_message_id(session), utc_now())


def _fetch(engine: Engine, cursor: _Cursor, tenant: str | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with Session(engine) as session:
        for view in incidents.updated_since(session, cursor.incidents_since):
            cursor.incidents_since = max(cursor.incidents_since, view.updated_at)
            if tenant is None or view.tenant == tenant:
                body = IncidentOut.of(view).model_dump(mode="json")
                events.append({"event": "incident", "data": json.dumps(body)})
        for message in notifications.list_messages(session, after_id=cursor.message_id):
            assert message.id is not None
            cursor.message_id = max(cursor.message_id, message.id)
            if message.transition == "report":  # reports go by e-mail and webhook only
                continue
            if tenant is None or message.payload.get("incident", {}).get("tenant") == tenant:
                body = MessageOut.of(message).model_dump(mode="json")
                events.append(
                    {"event": "message", "id": str(message.id), "data": json.dumps(body)}
                )
    return events


async def incident_events(
    engine: Engine,
    is_disconnected: Callable[[], Awaitable[bool]],
    tenant: str | None = None,
    poll_s: float = 1.0,
) -> AsyncIterator[dict[str, Any]]:
    """Events for one client until it leaves: `ready`, then `incident` and `message`."""
    CLIENTS.add(1)
    try:
        cursor = await run_in_threadpool(_start, engine)
        yield {"event": "ready", "data": json.dumps({"after_message": cursor.message_id})}
        while not await is_disconnected():
            for event in await run_in_threadpool(_fetch, engine, cursor, tenant):
                yield event
            await asyncio.sleep(poll_s)
    finally:
        CLIENTS.add(-1)
        logger.info("stream client left; %d still connected", CLIENTS.count)
