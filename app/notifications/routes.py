"""The routers of notifications, incidents and the stream, for `app.main` to include."""

from __future__ import annotations

from fastapi import APIRouter

from app.routes import incidents, maintenance, notifications, silences, stream, subscriptions

ROUTERS: list[APIRouter] = [
    module.router
    for module in (incidents, subscriptions, maintenance, silences, notifications, stream)
]
