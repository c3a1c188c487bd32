"""The FastAPI application: wiring only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.routes import anomalies, ask, channels, health, ingest
from app.runtime import Services, build_services
from app.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; it opens the store and starts the worker when it starts."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        live = services or build_services(settings, with_worker=settings.worker)
        app.state.services = live
        if owned and live.worker is not None:
            live.worker.start()
        logger.info("service ready on %s", settings.url)
        try:
            yield
        finally:
            if owned:
                live.close()

    app = FastAPI(
        title="Intelligent Monitoring",
        version="0.1.0",
        description="Satellite telemetry anomalies, detected as data arrives, explained on ask.",
        lifespan=lifespan,
    )
    for module in (health, ask, anomalies, channels, ingest):
        app.include_router(module.router)
    return app
