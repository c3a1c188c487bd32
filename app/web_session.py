"""Browser-side security: the server secret, dashboard session cookies and CSRF tokens.

One server secret (`IMON_SESSION_SECRET`, else a random one generated once and kept in
`IMON_HOME/session_secret`, mode 600) yields one HMAC key per purpose: sessions, login
forms and signed links. A session is a signed cookie that carries the tenant, the scopes,
the key it was opened with, a CSRF token and an expiry; nothing is kept on the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from agent.plot_links import sign_link
from app.settings import Settings

logger = logging.getLogger(__name__)

SECRET_FILE = "session_secret"
SESSION_COOKIE = "imon_session"
LOGIN_COOKIE = "imon_login"
#: Name of the hidden field carrying the CSRF token in every dashboard form.
CSRF_FIELD = "csrf_token"
#: Seconds a login form stays valid.
LOGIN_FORM_TTL_S = 3600


@dataclass(frozen=True)
class WebKeys:
    """HMAC keys derived from the server secret, one per purpose."""

    session: bytes
    login: bytes
    links: bytes

    @classmethod
    def from_secret(cls, secret: str) -> WebKeys:
        """Derive the purpose keys from `secret`."""

        def derive(purpose: str) -> bytes:
            return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

        return cls(session=derive("session"), login=derive("login"), links=derive("links"))


def development_mode(settings: Settings) -> bool:
    """Whether `IMON_ENV` is `development` (the embedded default)."""
    return settings.env == "development"


def load_web_keys(settings: Settings) -> WebKeys:
    """The keys of this server: from `IMON_SESSION_SECRET`, else the secret file under home.

    The file is generated at the first start in development mode only: in production every
    API process must share one configured secret (placeholders are refused by `Settings`).
    """
    configured = settings.session_secret.get_secret_value() if settings.session_secret else ""
    if configured:
        return WebKeys.from_secret(configured)
    if not development_mode(settings):
        raise ValueError(
            "IMON_SESSION_SECRET: not set; production (IMON_ENV=production) needs one random "
            "secret shared by every API process, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    return WebKeys.from_secret(_stored_secret(settings))


def _stored_secret(settings: Settings) -> str:
    path = settings.home.resolve() / SECRET_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    logger.warning(
        "generated the session secret in %s (development mode; set IMON_SESSION_SECRET to "
        "share one between API processes)",
        path,
    )
    return secret


def web_keys(request: Request) -> WebKeys:
    """The keys loaded at start-up (loaded now if the app was started another way)."""
    state = request.app.state
    keys = getattr(state, "web_keys", None)
    if not isinstance(keys, WebKeys):
        keys = load_web_keys(state.services.settings)
        state.web_keys = keys
    return keys


# Signed values: base64url(JSON) "." hex HMAC


def _sign(key: bytes, data: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(key: bytes, value: str) -> dict[str, Any] | None:
    body, _, mac = value.partition(".")
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(expected, mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class WebSession:
    """What a dashboard session cookie carries."""

    tenant: str
    scopes: tuple[str, ...]
    key_id: str
    csrf: str
    expires: int


def new_session(tenant: str, scopes: frozenset[str], key_id: str, max_age_s: float) -> WebSession:
    """A session opened now, lasting `max_age_s`, with a fresh CSRF token."""
    return WebSession(
        tenant=tenant,
        scopes=tuple(sorted(scopes)),
        key_id=key_id,
        csrf=secrets.token_urlsafe(24),
        expires=int(time.time() + max_age_s),
    )


def encode_session(keys: WebKeys, session: WebSession) -> str:
    """The cookie value of `session`."""
    data = {
        "t": session.tenant,
        "s": list(session.scopes),
        "k": session.key_id,
        "c": session.csrf,
        "e": session.expires,
    }
    return _sign(keys.session, data)


def decode_session(
    keys: WebKeys, value: str | None, now: float | None = None
) -> WebSession | None:
    """The session of a cookie value, or None when it is missing, tampered or expired."""
    if not value:
        return None
    data = _unsign(keys.session, value)
    if data is None:
        return None
    try:
        session = WebSession(
            tenant=str(data["t"]),
            scopes=tuple(str(s) for s in data["s"]),
            key_id=str(data["k"]),
            csrf=str(data["c"]),
            expires=int(data["e"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return session if session.expires > (time.time() if now is None else now) else None


def request_session(request: Request) -> WebSession | None:
    """The valid session of the request's cookie, if any."""
    return decode_session(web_keys(request), request.cookies.get(SESSION_COOKIE))


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether cookies get the Secure flag: over https, or when the settings say so."""
    return settings.session_cookie_secure or request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, settings: Settings, session: WebSession
) -> None:
    """Put `session` in an HttpOnly, SameSite=Lax cookie that expires with it."""
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(web_keys(request), session),
        max_age=max(1, session.expires - int(time.time())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def csrf_matches(session: WebSession, token: str | None) -> bool:
    """Whether `token` (a form's hidden field) is the session's CSRF token."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


# The login form has no session yet: its token is a signed nonce, also set as a cookie
# (double submit), so a page elsewhere cannot log a browser in with the attacker's key.


def new_login_token(request: Request) -> str:
    """A token for one login form, valid for :data:`LOGIN_FORM_TTL_S`."""
    data = {"n": secrets.token_urlsafe(16), "e": int(time.time() + LOGIN_FORM_TTL_S)}
    return _sign(web_keys(request).login, data)


def login_token_valid(request: Request, token: str | None) -> bool:
    """Whether the form's token is signed, unexpired and equal to the login cookie."""
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not token or not cookie or not hmac.compare_digest(cookie.encode(), token.encode()):
        return False
    data = _unsign(web_keys(request).login, token)
    return data is not None and isinstance(data.get("e"), int) and data["e"] > time.time()


def set_login_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    """Keep the login form's token in a short-lived HttpOnly cookie."""
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_TTL_S,
        path="/dashboard",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


def signed_link(request: Request, url: str, tenant: str, origin: str | None = None) -> str:
    """`url` signed for `tenant` for `IMON_SIGNED_URL_TTL_S` (bound to `origin` if given)."""
    settings: Settings = request.app.state.services.settings
    if origin:
        url += ("&" if "?" in url else "?") + urlencode({"origin": origin})
    expires = int(time.time() + settings.signed_url_ttl_s)
    return sign_link(url, tenant, web_keys(request).links, expires)


def secret_path(settings: Settings) -> Path:
    """Where a generated secret is kept."""
    return settings.home.resolve() / SECRET_FILE
