"""API keys on every request: who is calling (tenant, scopes), and may they do this.

`authenticate` is an app-level dependency (see `app.main`), so every API route, including
routes added later, requires a key unless it says `openapi_extra={"x-public": True}`.
The scope a route needs is `openapi_extra["x-scope"]`, else `read` for GET/HEAD and
`admin` for anything else: a new write route is admin-only until it says otherwise.

Three more ways in, each for a browser that cannot send a key header:
- dashboard pages (`/dashboard/...`) take the signed session cookie of a login (or a key
  header); a POST with the cookie must carry the session's CSRF token (`check_csrf`);
- a GET of a route in :data:`SIGNED_LINK_ROUTES` takes a signed link (`?tenant&exp&sig`,
  see `agent.plot_links`) as a read-only key of that tenant;
- a widget key is accepted only with an `Origin` among its allowed origins, which the
  CORS middleware (`app.cors`) then echoes in `Access-Control-Allow-Origin`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlmodel import Session

from agent.plot_links import check_signed_link
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.web_session import CSRF_FIELD, WebSession, csrf_matches, request_session, web_keys
from store.keys import check_origin, create_key, find_key, has_keys
from store.keys_models import SCOPES, WIDGET_SCOPES, ApiKey

logger = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
DEV_KEY_FILE = "dev-api-key"
#: What a keyless loopback request of the embedded default may do (see `_trusted_loopback`).
LOOPBACK_SCOPES = frozenset({"read", "ask"})
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
#: Scopes whose requests are rate-limited per key.
LIMITED_SCOPES = ("ask", "ingest")
DASHBOARD_PREFIX = "/dashboard"
LOGIN_PATH = "/dashboard/login"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Routes whose GET a signed link authorises (images and event streams in a browser).
SIGNED_LINK_ROUTES = frozenset({"/channels/{channel_id}/plot.png", "/stream"})


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a tenant, its scopes, and which key it used."""

    tenant: str
    scopes: frozenset[str]
    key_id: str
    allowed_origins: tuple[str, ...] = field(default=())
    kind: str = "api"

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
        record.kind,
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request) -> None:
    """Check the request's key, scope, origin and rate; leave the principal on the request."""
    route = request.scope.get("route")
    public, scope = route_policy(route, request.method)
    if public:
        return
    path = str(getattr(route, "path", ""))
    if path.startswith(DASHBOARD_PREFIX):
        _authenticate_dashboard(request, scope)
        return
    services = request.app.state.services
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = _signed_link_principal(request, path)
    if principal is None:
        key = presented_key(request)
        if key is None and _trusted_loopback(services.settings, request):
            principal = Principal(DEFAULT_TENANT, LOOPBACK_SCOPES, "loopback-dev")
            _check(request, principal, scope)
            request.state.principal = principal
            return
        if key is None:
            raise _unauthorized("API key: missing; send Authorization: Bearer <key> or X-API-Key")
        principal = _key_principal(request, key)
    _check(request, principal, scope)
    request.state.principal = principal


def _key_principal(request: Request, key: str) -> Principal:
    services = request.app.state.services
    with Session(services.engine) as session:
        principal = principal_of_key(services.settings, session, key)
    if principal is None:
        raise _unauthorized("API key: unknown or revoked")
    return principal


def _signed_link_principal(request: Request, path: str) -> Principal | None:
    """A read-only principal of the link's tenant when a GET carries a valid signature."""
    if request.method not in ("GET", "HEAD") or "sig" not in request.query_params:
        return None
    if path not in SIGNED_LINK_ROUTES:
        return None
    try:
        tenant = check_signed_link(
            request.url.path,
            request.query_params.multi_items(),
            web_keys(request).links,
            time.time(),
        )
    except ValueError as error:
        raise HTTPException(403, detail=str(error)) from None
    bound, origin = request.query_params.get("origin"), request.headers.get("origin")
    if bound and origin is not None:
        if origin.rstrip("/") != bound:
            raise HTTPException(403, detail="origin: this signed link belongs to another origin")
        request.state.cors_origin = origin
    return Principal(tenant, frozenset({"read"}), "signed-link")


def login_location(request: Request) -> str:
    """The login page, returning to the requested page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(target, safe='')}"


def _authenticate_dashboard(request: Request, scope: str) -> None:
    """A key header (no CSRF: not sent by browsers on their own), else the session cookie."""
    key = presented_key(request)
    if key is not None:
        principal = _key_principal(request, key)
        if principal.kind == "widget":
            raise HTTPException(403, detail="API key: a widget key cannot open the dashboard")
    else:
        session = request_session(request)
        found = _session_principal(request, session) if session else None
        if found is None:
            if request.method in ("GET", "HEAD"):
                raise HTTPException(
                    303,
                    detail="session: missing or expired; log in",
                    headers={"Location": login_location(request)},
                )
            raise _unauthorized(f"session: missing or expired; log in again at {LOGIN_PATH}")
        principal = found
        request.state.web_session = session
    if not principal.allows(scope):
        raise HTTPException(403, detail=f"API key: lacks the {scope!r} scope this page needs")
    request.state.principal = principal


def _session_principal(request: Request, session: WebSession) -> Principal | None:
    """The principal of a session, while the key it was opened with is still valid."""
    services = request.app.state.services
    if session.key_id.startswith("admin-key"):
        if not hmac.compare_digest(session.key_id, session_key_ref(request, "admin-key")):
            return None  # IMON_ADMIN_KEY was changed or removed since the login
        return Principal(session.tenant, frozenset(session.scopes), "admin-key")
    number = session.key_id.removeprefix("key-")
    if not number.isdigit():
        return None
    with Session(services.engine) as db:
        record = db.get(ApiKey, int(number))
    if record is None or record.revoked_at is not None or record.tenant != session.tenant:
        return None
    return Principal(session.tenant, frozenset(session.scopes), session.key_id)


def session_key_ref(request: Request, key_id: str) -> str:
    """What a session records of its key: the key id, or for `IMON_ADMIN_KEY` a keyed
    digest of its value, so a session ends when the setting changes."""
    if key_id != "admin-key":
        return key_id
    settings: Settings = request.app.state.services.settings
    admin = settings.admin_key.get_secret_value() if settings.admin_key else ""
    if not admin:
        return "admin-key#unset"
    digest = hmac.new(web_keys(request).session, admin.encode(), hashlib.sha256)
    return "admin-key#" + digest.hexdigest()[:32]


async def check_csrf(request: Request) -> None:
    """Refuse (403) a cookie-authenticated dashboard POST without the session's CSRF token.

    A dependency of every dashboard router; it runs after `authenticate`. Requests with a
    key header carry no cookie credentials and need no token.
    """
    session: WebSession | None = getattr(request.state, "web_session", None)
    if session is None or request.method in SAFE_METHODS:
        return
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not csrf_matches(session, token if isinstance(token, str) else None):
        raise HTTPException(
            403,
            detail=f"CSRF: the form's {CSRF_FIELD} is missing or does not match this "
            "session; reload the page and submit again",
        )


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
    _check_origin(request, principal)
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    if limiter is not None and scope in LIMITED_SCOPES:
        wait_s = limiter.take(f"{principal.key_id}:{scope}", scope)
        if wait_s > 0:
            raise HTTPException(
                429,
                detail=f"rate: too many {scope} requests for this key; retry later",
                headers={"Retry-After": str(max(1, round(wait_s + 0.5)))},
            )


def _check_origin(request: Request, principal: Principal) -> None:
    """Refuse a key used from an origin it does not list; note an allowed one for CORS."""
    origin = request.headers.get("origin")
    if principal.kind == "widget" and origin is None:
        raise HTTPException(
            403,
            detail="origin: missing; a widget key is accepted only from a browser page on "
            "one of its allowed origins",
        )
    if origin is None or not principal.allowed_origins:
        return
    try:
        normalised = check_origin(origin)
    except ValueError:
        normalised = ""
    if normalised not in principal.allowed_origins:
        raise HTTPException(
            403, detail=f"origin: {origin[:100]!r} is not an allowed origin of this API key"
        )
    request.state.cors_origin = origin


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
    """A widget key of `tenant` limited to `origin`, made once per process for the demo."""
    cache: dict[tuple[str, str], str] = state.__dict__.setdefault("demo_widget_keys", {})
    if (tenant, origin) not in cache:
        with Session(engine) as session:
            created = create_key(
                session,
                tenant,
                WIDGET_SCOPES,
                name="widget demo",
                allowed_origins=[origin],
                kind="widget",
            )
            session.commit()
        cache[(tenant, origin)] = created.key
    return cache[(tenant, origin)]
