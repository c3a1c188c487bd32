"""Conversation state of ``/ask`` kept in the store's ``Conversation`` table, per tenant.

The tenant that started a conversation is kept in its state under ``TENANT_KEY``; a
conversation id of another tenant raises ``UnknownConversationError`` (``/ask`` answers
404) and neither reads nor overwrites that conversation. New ids are random (uuid4).
"""

from __future__ import annotations

import uuid
from typing import Any

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
    engine: Engine, conversation_id: str, state: dict[str, Any], tenant: str = LEGACY_TENANT
) -> None:
    """Create or replace the state of `tenant`'s conversation (never another tenant's)."""
    stored = {**state, TENANT_KEY: tenant}
    with Session(engine) as session:
        found = session.get(Conversation, conversation_id)
        if found is None:
            found = Conversation(id=conversation_id, state=stored)
        elif _owner(found) != tenant:
            raise UnknownConversationError(f"conversation_id: no conversation {conversation_id!r}")
        else:
            found.state = stored
            found.updated_at = utc_now()
        session.add(found)
        session.commit()
