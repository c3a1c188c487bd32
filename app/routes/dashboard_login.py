"""Dashboard login with an API key, and logout: a signed session cookie (app.web_session)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app.auth import DEV_KEY_FILE, LOGIN_PATH, check_csrf, principal_of_key, session_key_ref
from app.deps import ServicesDep
from app.ratelimit import RateLimiter
from app.routes.dashboard import TEMPLATES
from app.web_session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    clear_session_cookie,
    development_mode,
    login_token_valid,
    new_login_token,
    new_session,
    set_login_cookie,
    set_session_cookie,
)

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(check_csrf)]
)
PUBLIC = {"x-public": True}
#: Login attempts per minute from one client address (a token bucket, bursts as big).
LOGIN_ATTEMPTS_PER_MINUTE = 30.0


def _login_wait_s(request: Request) -> float:
    """0 when this address may try to log in now, else seconds until it may."""
    state = request.app.state
    limiter = getattr(state, "login_limiter", None)
    if not isinstance(limiter, RateLimiter):
        limiter = RateLimiter({"login": LOGIN_ATTEMPTS_PER_MINUTE})
        state.login_limiter = limiter
    client = request.client.host if request.client else "unknown"
    return limiter.take(client, "login")


def _safe_next(target: str | None) -> str:
    """A dashboard path to return to after the login; anything else goes to the overview."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard"


def _login_page(
    request: Request, services: ServicesDep, target: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    token = new_login_token(request)
    settings = services.settings
    hint = ""
    if development_mode(settings) and (settings.home.resolve() / DEV_KEY_FILE).is_file():
        hint = str(settings.home.resolve() / DEV_KEY_FILE)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {
            "features": {},
            "csrf_field": CSRF_FIELD,
            "csrf_token": token,
            "next": target,
            "error": error,
            "dev_key_file": hint,
            "logged_in": False,
        },
        status_code=status_code,
    )
    set_login_cookie(response, request, settings, token)
    return response


@router.get("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
def login_form(request: Request, services: ServicesDep, next: str | None = None) -> HTMLResponse:
    """The login form: an API key of the tenant to look at."""
    return _login_page(request, services, _safe_next(next))


@router.post("/login", openapi_extra=PUBLIC)
def login(
    request: Request,
    services: ServicesDep,
    api_key: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    """Check the key and open a session; the form's token must match its cookie."""
    target = _safe_next(next)
    wait_s = _login_wait_s(request)
    if wait_s > 0:
        retry = max(1, round(wait_s + 0.5))
        page = _login_page(
            request, services, target, f"login: too many attempts; retry in {retry} s", 429
        )
        page.headers["Retry-After"] = str(retry)
        return page
    if not login_token_valid(request, csrf_token):
        return _login_page(
            request,
            services,
            target,
            f"CSRF: the form's {CSRF_FIELD} is missing, expired or does not match; "
            "submit the form again",
            403,
        )
    with Session(services.engine) as session:
        principal = principal_of_key(services.settings, session, api_key.strip())
    if principal is None:
        logger.info("dashboard login refused: unknown or revoked key")
        return _login_page(request, services, target, "API key: unknown or revoked", 401)
    if principal.kind == "widget":
        return _login_page(
            request, services, target, "API key: a widget key cannot open the dashboard", 403
        )
    session_value = new_session(
        principal.tenant,
        principal.scopes,
        session_key_ref(request, principal.key_id),
        services.settings.session_max_age_s,
    )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, services.settings, session_value)
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard")
    logger.info("dashboard login of tenant %s with %s", principal.tenant, principal.key_id)
    return response


@router.post("/logout", openapi_extra={"x-scope": "read"})
def logout() -> Response:
    """Close the session (the CSRF token is checked like on every dashboard form)."""
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookie(response)
    return response
