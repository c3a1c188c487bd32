"""CORS per API key: a browser page may read an answer only from an origin its key lists.

Browsers send `Origin` on cross-origin requests. `app.auth` refuses a key used from an
origin it does not list and notes an allowed one on the request (`state.cors_origin`);
this middleware then adds `Access-Control-Allow-Origin` for that origin and nothing
otherwise. A preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no key, so
it is answered for an origin that some active key lists; the real request is checked
against its own key.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.keys import check_origin, origin_is_listed

logger = logging.getLogger(__name__)

ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = ("accept", "authorization", "content-type", "x-api-key")
#: Seconds a browser may reuse a preflight answer.
PREFLIGHT_MAX_AGE_S = 600


class KeyOriginCors:
    """Per-key CORS headers on responses and preflight answers (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = await self._preflight(scope, origin, headers)
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                allowed = (scope.get("state") or {}).get("cors_origin")
                if allowed:
                    out["Access-Control-Allow-Origin"] = allowed
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, origin: str, headers: Headers) -> Response:
        try:
            normalised = check_origin(origin)
        except ValueError:
            normalised = ""
        engine = scope["app"].state.services.engine
        known = bool(normalised) and await run_in_threadpool(_origin_known, engine, normalised)
        if not known:
            logger.info("preflight refused for origin %.100s on %s", origin, scope["path"])
            return JSONResponse(
                {"detail": f"origin: {origin[:100]!r} is not an allowed origin of any API key"},
                status_code=403,
                headers={"Vary": "Origin"},
            )
        asked = headers.get("access-control-request-headers", "")
        wanted = [h.strip().lower() for h in asked.split(",") if h.strip()]
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ", ".join(
                    h for h in wanted if h in ALLOWED_HEADERS
                )
                or ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
                "Vary": "Origin",
            },
        )


def _origin_known(engine: Engine, origin: str) -> bool:
    with Session(engine) as session:
        return origin_is_listed(session, origin)
