"""Conversation state of ``/ask`` kept in the store's ``Conversation`` table, per tenant.

The tenant that started a conversation is kept in its state under ``TENANT_KEY``; a
conversation id of another tenant raises ``UnknownConversationError`` (``/ask`` answers
404) and neither reads nor overwrites that conversation. New ids are random (uuid4).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.errors import NotFoundError
from store.models import Conversation
from store.tenant_data import CONVERSATION_TENANT_KEY as TENANT_KEY
from store.tenant_data import LEGACY_TENANT
from store.types import utc_now


class UnknownConversationError(NotFoundError):
    """A conversation id that is not one of the caller's tenant."""


def new_conversation_id() -> str:
    """A fresh conversation id (uuid4, hex)."""
    return uuid.uuid4().hex


def _owner(found: Conversation) -> str:
    return str(found.state.get(TENANT_KEY, LEGACY_TENANT))


def load_state(
    engine: Engine, conversation_id: str, tenant: str = LEGACY_TENANT
) -> dict[str, Any]:
    """The saved state of `tenant`'s conversation, or an empty state when it is new.

    Raises:
        UnknownConversationError: the id belongs to a conversation of another tenant.
    """
    with Session(engine) as session:
        found = session.get(Conversation, conversation_id)
        if found is None:
            return {}
        if _owner(found) != tenant:
            raise UnknownConversationError(f"conversation_id: no conversation {conversation_id!r}")
        return {k: v for k, v in found.state.items() if k != TENANT_KEY}


def save_state(
    engine: Engine,
    conversation_id: str,
    state: dict[str, Any],
    tenant: str = LEGACY_TENANT,
    *,
    new: bool = False,
) -> None:
    """Create or replace the state of `tenant`'s conversation (never another tenant's).

    ``new`` says the id was just made by :func:`new_conversation_id`, so no row is read.
    The write is one statement in autocommit mode: SQLite's write lock is then held only
    inside that statement, never while the thread waits for the interpreter (with many
    concurrent questions a transaction left open across Python code kept the others
    sleeping in SQLite's busy handler for up to 100 ms at a time).
    """
    stored = {**state, TENANT_KEY: tenant}
    table: Any = Conversation.__table__  # type: ignore[attr-defined]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        found = None
        if not new:
            found = connection.execute(
                select(table.c.state).where(table.c.id == conversation_id)
            ).first()
        if found is None:
            connection.execute(
                insert(table).values(id=conversation_id, state=stored, updated_at=utc_now())
            )
        elif str(found[0].get(TENANT_KEY, LEGACY_TENANT)) != tenant:
            raise UnknownConversationError(f"conversation_id: no conversation {conversation_id!r}")
        else:
            connection.execute(
                update(table)
                .where(table.c.id == conversation_id)
                .values(state=stored, updated_at=utc_now())
            )
