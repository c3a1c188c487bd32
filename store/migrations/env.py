"""Alembic environment: runs on the connection handed over by `store.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import store.channel_models  # noqa: F401  (registers per-channel models and limits)
import store.keys_models  # noqa: F401  (registers tenants and API keys)
import store.models  # noqa: F401  (registers the tables)
import store.notifications_models  # noqa: F401  (registers the notification tables)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through store.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
