"""Tenants and their API keys (stored hashed; the key itself is shown once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime, utc_now

SCOPES = ("read", "ask", "ingest", "admin")
#: Kinds of keys: `api` for programs and people, `widget` for the chat widget in a browser.
KINDS = ("api", "widget")
#: The only scopes a widget key may hold (its key is visible in the embedding page).
WIDGET_SCOPES = ("read", "ask")


class Tenant(SQLModel, table=True):
    """A customer: owns satellites (by `Satellite.tenant`) and API keys."""

    name: str = Field(primary_key=True, max_length=100)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ApiKey(SQLModel, table=True):
    """One API key of a tenant: `hash` is `sha256$<salt>$<hex digest of salt + key>`."""

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(foreign_key="tenant.name", max_length=100, index=True)
    name: str = Field(default="", max_length=200)
    prefix: str = Field(max_length=16, unique=True)
    hash: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kind: str = Field(
        default="api", sa_column=Column(String(20), nullable=False, server_default="api")
    )
    allowed_origins: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )

    def describe(self) -> dict[str, Any]:
        """What `imon keys list` shows: everything but the hash."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "prefix": self.prefix,
            "kind": self.kind,
            "scopes": list(self.scopes),
            "allowed_origins": list(self.allowed_origins),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }
