"""Conversation state of ``/ask`` kept in the store's ``Conversation`` table."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.models import Conversation
from store.types import utc_now


def new_conversation_id() -> str:
    """A fresh conversation id (uuid4, hex)."""
    return uuid.uuid4().hex


def load_state(engine: Engine, conversation_id: str) -> dict[str, Any]:
    """The saved state of a conversation, or an empty state when it is new."""
    with Session(engine) as session:
        found = session.get(Conversation, conversation_id)
        return dict(found.state) if found is not None else {}


def save_state(engine: Engine, conversation_id: str, state: dict[str, Any]) -> None:
    """Create or replace the state of a conversation."""
    with Session(engine) as session:
        found = session.get(Conversation, conversation_id)
        if found is None:
            found = Conversation(id=conversation_id, state=dict(state))
        else:
            found.state = dict(state)
            found.updated_at = utc_now()
        session.add(found)
        session.commit()
