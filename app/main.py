"""The FastAPI application: wiring only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.auth import authenticate, ensure_dev_key
from app.cors import KeyOriginCors
from app.docs import install_docs
from app.errors import install_error_handlers
from app.limits import BodySizeLimit
from app.metrics import build_metrics_registry
from app.notifications.metrics import NotificationCollector
from app.notifications.routes import ROUTERS as NOTIFICATION_ROUTERS
from app.notifications.wiring import build_dispatcher, build_report_mailer
from app.ratelimit import RateLimiter
from app.routes import annotations as annotation_routes
from app.routes import (
    anomalies,
    ask,
    channels,
    dashboard,
    dashboard_actions,
    dashboard_login,
    events,
    health,
    ingest,
    kairosdb,
    links,
    metrics,
    plots,
)
from app.routes import models as model_routes
from app.routes import tenants as tenant_routes
from app.runtime import Services, build_services
from app.secret_policy import check_webhook_secrets
from app.settings import Settings, load_settings
from app.web_session import load_web_keys

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; it opens the store and starts the worker when it starts."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        live = services or build_services(settings, with_worker=settings.worker)
        app.state.services = live
        check_webhook_secrets(live.settings.env, live.engine)
        ensure_dev_key(live.settings, live.engine)
        app.state.web_keys = load_web_keys(live.settings)
        app.state.limiter = RateLimiter(
            {
                "ask": live.settings.rate_ask_per_minute,
                "ingest": live.settings.rate_ingest_per_minute,
            }
        )
        app.state.metrics = build_metrics_registry(live.worker, live.detection)
        if owned and live.worker is not None:
            live.worker.start()
        detecting = live.detection is not None and live.detection.start()
        app.state.metrics.register(NotificationCollector(live.engine))
        dispatcher = build_dispatcher(live)
        app.state.dispatcher = dispatcher
        mailer = build_report_mailer(live)
        app.state.report_mailer = mailer
        if owned and live.settings.notify_dispatch:
            dispatcher.start()
            mailer.start()
        logger.info("service ready on %s", settings.url)
        try:
            yield
        finally:
            mailer.stop()
            dispatcher.stop()
            if detecting and live.detection is not None:
                live.detection.stop()
            if owned:
                live.close()

    app = FastAPI(
        title="Intelligent Monitoring",
        version="0.1.0",
        description="Satellite telemetry anomalies, detected as data arrives, explained on ask.",
        lifespan=lifespan,
        dependencies=[Depends(authenticate)],
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, exempt=("/api/v1/datapoints",)
    )
    for module in (health, ask, anomalies, channels, ingest, kairosdb, metrics):
        app.include_router(module.router)
    for module in (annotation_routes, events, plots, model_routes, links):
        app.include_router(module.router)
    for router in NOTIFICATION_ROUTERS:
        app.include_router(router)
    for module in (dashboard, dashboard_actions, dashboard_login):
        app.include_router(module.router)
    app.add_middleware(KeyOriginCors)
    app.include_router(tenant_routes.router)
    install_error_handlers(app)
    install_docs(app)  # before /static, whose mount would shadow the docs assets
    app.mount("/static", StaticFiles(packages=[("app", "static")]), name="static")
    return app
