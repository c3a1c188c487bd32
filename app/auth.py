"""API keys on every request: who is calling (tenant, scopes), and may they do this.

`authenticate` is an app-level dependency (see `app.main`), so every API route, including
routes added later, requires a key unless it says `openapi_extra={"x-public": True}`.
The scope a route needs is `openapi_extra["x-scope"]`, else `read` for GET/HEAD and
`admin` for anything else: a new write route is admin-only until it says otherwise.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from app.ratelimit import RateLimiter
from app.settings import Settings
from store.keys import create_key, find_key, has_keys
from store.keys_models import SCOPES

logger = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
DEV_KEY_FILE = "dev-api-key"
#: What a keyless loopback request of the embedded default may do (see `_trusted_loopback`).
LOOPBACK_SCOPES = frozenset({"read", "ask"})
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
#: Scopes whose requests are rate-limited per key.
LIMITED_SCOPES = ("ask", "ingest")


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a tenant, its scopes, and which key it used."""

    tenant: str
    scopes: frozenset[str]
    key_id: str
    allowed_origins: tuple[str, ...] = field(default=())

    def allows(self, scope: str) -> bool:
        """Whether the caller holds `scope` (`admin` holds them all)."""
        return scope in self.scopes or "admin" in self.scopes


def route_policy(route: Any, method: str) -> tuple[bool, str]:
    """(public, scope needed) of a route, from its `openapi_extra`."""
    extra: dict[str, Any] = getattr(route, "openapi_extra", None) or {}
    if extra.get("x-public"):
        return True, ""
    default = "read" if method in ("GET", "HEAD") else "admin"
    return False, str(extra.get("x-scope", default))


def presented_key(request: Request) -> str | None:
    """The key of `Authorization: Bearer <key>` or `X-API-Key`, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def principal_of_key(settings: Settings, session: Session, key: str) -> Principal | None:
    """The principal of `key`: the admin key of the settings, or an active stored key."""
    admin = settings.admin_key.get_secret_value() if settings.admin_key else ""
    if admin and hmac.compare_digest(key.encode(), admin.encode()):
        return Principal(DEFAULT_TENANT, frozenset(SCOPES), "admin-key")
    record = find_key(session, key)
    if record is None:
        return None
    return Principal(
        record.tenant,
        frozenset(record.scopes),
        f"key-{record.id}",
        tuple(record.allowed_origins),
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request) -> None:
    """Check the request's key, scope, origin and rate; leave the principal on the request."""
    public, scope = route_policy(request.scope.get("route"), request.method)
    if public:
        return
    services = request.app.state.services
    principal = getattr(request.state, "principal", None)
    if principal is None:
        key = presented_key(request)
        if key is None and _trusted_loopback(services.settings, request):
            principal = Principal(DEFAULT_TENANT, LOOPBACK_SCOPES, "loopback-dev")
            _check(request, principal, scope)
            request.state.principal = principal
            return
        if key is None:
            raise _unauthorized("API key: missing; send Authorization: Bearer <key> or X-API-Key")
        with Session(services.engine) as session:
            principal = principal_of_key(services.settings, session, key)
        if principal is None:
            raise _unauthorized("API key: unknown or revoked")
    _check(request, principal, scope)
    request.state.principal = principal


def _trusted_loopback(settings: Settings, request: Request) -> bool:
    """Whether a keyless request is the single local user of the embedded default.

    Only with SQLite, no `IMON_ADMIN_KEY`, `IMON_DEV_LOOPBACK_ACCESS` on, a loopback client
    and no foreign `Origin` (so a web page elsewhere cannot use it through the browser).
    """
    if not settings.dev_loopback_access or settings.database_url or settings.admin_key:
        return False
    client = request.client.host if request.client else ""
    if client not in LOOPBACK_HOSTS:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = origin.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in LOOPBACK_HOSTS or host == "localhost"


def _check(request: Request, principal: Principal, scope: str) -> None:
    if not principal.allows(scope):
        raise HTTPException(403, detail=f"API key: lacks the {scope!r} scope this route needs")
    origin = request.headers.get("origin")
    if (
        origin
        and principal.allowed_origins
        and origin.rstrip("/") not in principal.allowed_origins
    ):
        raise HTTPException(403, detail="API key: not allowed from this origin")
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    if limiter is not None and scope in LIMITED_SCOPES:
        wait_s = limiter.take(f"{principal.key_id}:{scope}", scope)
        if wait_s > 0:
            raise HTTPException(
                429,
                detail=f"rate: too many {scope} requests for this key; retry later",
                headers={"Retry-After": str(max(1, round(wait_s + 0.5)))},
            )


def current_principal(request: Request) -> Principal:
    """The principal `authenticate` found; refuses (401) when there is none."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise _unauthorized("API key: missing")
    return principal


def ensure_dev_key(settings: Settings, engine: Any) -> Path | None:
    """At the first start of the embedded default, create a development key for `default`.

    The key goes to `IMON_HOME/dev-api-key` (mode 600); the log names the file, not the key.
    Nothing happens with PostgreSQL, with `IMON_ADMIN_KEY` set, or once any key exists.
    """
    path = settings.home.resolve() / DEV_KEY_FILE
    if settings.database_url or settings.admin_key is not None:
        return None
    with Session(engine) as session:
        if has_keys(session):
            return None
        created = create_key(session, DEFAULT_TENANT, SCOPES, name="development")
        prefix = created.record.prefix
        session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(created.key + "\n")
    path.chmod(0o600)
    logger.warning(
        "created a development API key (%s, tenant %s, all scopes) and wrote it to %s; "
        "create real keys with `imon keys create`",
        prefix,
        DEFAULT_TENANT,
        path,
    )
    return path


def client_key(settings: Settings) -> str | None:
    """The key CLI commands send: IMON_API_KEY, else the dev key file, else IMON_ADMIN_KEY."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    path = settings.home.resolve() / DEV_KEY_FILE
    if path.is_file():
        return path.read_text().strip() or None
    return settings.admin_key.get_secret_value() if settings.admin_key else None


def client_headers(settings: Settings) -> dict[str, str]:
    """Headers carrying the CLI's key, empty when it has none."""
    key = client_key(settings)
    return {"X-API-Key": key} if key else {}


def demo_widget_key(state: Any, engine: Any, tenant: str, origin: str) -> str:
    """A `read,ask` key of `tenant` limited to `origin`, made once per process for the demo."""
    cache: dict[tuple[str, str], str] = state.__dict__.setdefault("demo_widget_keys", {})
    if (tenant, origin) not in cache:
        with Session(engine) as session:
            created = create_key(
                session, tenant, ["read", "ask"], name="widget demo", allowed_origins=[origin]
            )
            session.commit()
        cache[(tenant, origin)] = created.key
    return cache[(tenant, origin)]
