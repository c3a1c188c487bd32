"""Dashboard login and sessions, and CSRF on every dashboard form (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import SecretStr
from sqlmodel import Session, select

from app.auth import check_csrf
from app.routes.dashboard_login import LOGIN_ATTEMPTS_PER_MINUTE
from app.settings import Settings
from app.web_session import (
    SECRET_FILE,
    SESSION_COOKIE,
    WebKeys,
    WebSession,
    encode_session,
    load_web_keys,
)
from store.keys import create_key, find_key, revoke_key
from store.models import Annotation, Anomaly
from store.notifications_models import (
    ChannelSilence,
    Incident,
    MaintenanceWindow,
)
from tests.auth_helpers import ADMIN_KEY
from tests.web_security_helpers import TOKEN, Web, csrf, login, web_fixture  # noqa: F401

# Login and sessions


def test_dashboard_without_a_session_redirects_to_the_login(web: Web) -> None:
    answer = web.client().get("/dashboard/anomalies", params={"satellite": "A-SAT"})
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "/dashboard/login?next=%2Fdashboard%2Fanomalies%3Fsatellite%3DA-SAT"
    )


def test_login_sets_an_httponly_lax_cookie_that_opens_the_tenants_pages(web: Web) -> None:
    client = login(web, web.keys["admin"])
    cookie = next(
        h for h in client.cookies.jar if h.name == SESSION_COOKIE
    )  # the jar keeps it for the next requests
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure  # plain http and no setting
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert 'data-satellite="A-SAT"' in page.text
    assert "B-SAT" not in page.text
    assert client.get(f"/dashboard/anomalies/{web.ids['b_anomaly']}").status_code == 404


def test_session_cookie_header_is_httponly_lax_and_expires_with_the_session(web: Web) -> None:
    client = web.client()
    token = TOKEN.search(client.get("/dashboard/login").text)
    assert token is not None
    answer = client.post(
        "/dashboard/login", data={"api_key": web.keys["read"], "csrf_token": token.group(1)}
    )
    header = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert f"Max-Age={int(web.settings.session_max_age_s)}" in header
    assert "Secure" not in header


def test_session_cookie_is_secure_over_https(web: Web) -> None:
    client = web.client(base_url="https://testserver")
    token = TOKEN.search(client.get("/dashboard/login").text)
    assert token is not None
    answer = client.post(
        "/dashboard/login", data={"api_key": web.keys["read"], "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_cookies_are_secure_when_the_setting_says_so(web: Web) -> None:
    # behind a TLS proxy the service sees http, the browser speaks https
    services = web.app.state.services  # type: ignore[attr-defined]
    original = services.settings
    services.settings = original.model_copy(update={"session_cookie_secure": True})
    try:
        form = web.client().get("/dashboard/login")
    finally:
        services.settings = original
    assert form.status_code == 200
    assert "Secure" in form.headers["set-cookie"]
    assert "Secure" not in web.client().get("/dashboard/login").headers["set-cookie"]


@pytest.mark.parametrize(
    ("which", "status", "reason"),
    [
        ("unknown", 401, "API key: unknown or revoked"),
        ("revoked", 401, "API key: unknown or revoked"),
        ("widget", 403, "a widget key cannot open the dashboard"),
    ],
)
def test_login_refuses_bad_keys_with_a_reason(
    web: Web, which: str, status: int, reason: str
) -> None:
    client = web.client()
    token = TOKEN.search(client.get("/dashboard/login").text)
    assert token is not None
    key = web.keys.get(which, "imon_deadbeef_not-a-key")
    answer = client.post("/dashboard/login", data={"api_key": key, "csrf_token": token.group(1)})
    assert answer.status_code == status
    assert reason in answer.text
    assert SESSION_COOKIE not in client.cookies


def test_login_attempts_are_rate_limited_per_address(web: Web) -> None:
    client = web.client()
    page = client.get("/dashboard/login")
    answers = []
    for _ in range(int(LOGIN_ATTEMPTS_PER_MINUTE) + 1):
        token = TOKEN.search(page.text)  # each answer carries a fresh form
        assert token is not None
        page = client.post(
            "/dashboard/login",
            data={"api_key": "imon_00000000_guess", "csrf_token": token.group(1)},
        )
        answers.append(page.status_code)
    assert answers[:-1] == [401] * int(LOGIN_ATTEMPTS_PER_MINUTE)
    assert answers[-1] == 429
    assert int(page.headers["retry-after"]) >= 1
    assert "login: too many attempts" in page.text
    token = TOKEN.search(page.text)
    assert token is not None
    right = client.post(
        "/dashboard/login", data={"api_key": web.keys["read"], "csrf_token": token.group(1)}
    )
    assert right.status_code == 429  # even the right key waits


def test_login_without_the_form_token_is_refused_as_csrf(web: Web) -> None:
    client = web.client()
    client.get("/dashboard/login")  # the login cookie is set, but the field is missing
    answer = client.post("/dashboard/login", data={"api_key": web.keys["admin"]})
    assert answer.status_code == 403
    assert "CSRF: the form&#39;s csrf_token is missing" in answer.text
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize("change", ["none", "tampered", "expired", "other secret"])
def test_tampered_or_expired_sessions_send_back_to_the_login(web: Web, change: str) -> None:
    keys = load_web_keys(web.settings)
    with Session(web.engine) as db:
        record = find_key(db, web.keys["read"])
        assert record is not None
        key_id = f"key-{record.id}"
    expires = int(time.time()) + (-5 if change == "expired" else 600)
    session = WebSession("a", ("read",), key_id, "t" * 20, expires)
    signer = WebKeys.from_secret("x" * 40) if change == "other secret" else keys
    value = encode_session(signer, session)
    if change == "tampered":  # an admin payload under this session's signature
        forged = encode_session(keys, WebSession("a", ("admin",), key_id, "t", expires))
        value = forged.split(".")[0] + "." + value.split(".")[1]
    answer = web.client(cookies={SESSION_COOKIE: value}).get("/dashboard")
    if change == "none":  # the control: the same session, untouched, opens the page
        assert answer.status_code == 200
        return
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/dashboard/login")


def test_an_admin_key_session_ends_when_the_admin_key_setting_changes(web: Web) -> None:
    client = login(web, ADMIN_KEY)
    assert client.get("/dashboard").status_code == 200
    services = web.app.state.services  # type: ignore[attr-defined]
    original = services.settings
    services.settings = original.model_copy(update={"admin_key": SecretStr("rotated-" * 4)})
    try:
        assert client.get("/dashboard").status_code == 303
    finally:
        services.settings = original


def test_a_widget_key_header_cannot_open_the_dashboard(web: Web) -> None:
    answer = web.client().get("/dashboard", headers={"X-API-Key": web.keys["widget"]})
    assert answer.status_code == 403
    assert "widget key cannot open the dashboard" in answer.json()["detail"]


def test_every_dashboard_router_checks_the_csrf_token(web: Web) -> None:
    # FastAPI keeps each included router as one entry holding the router itself
    routers = [
        router
        for entry in web.app.routes  # type: ignore[attr-defined]
        if isinstance(router := getattr(entry, "original_router", entry), APIRouter)
    ]
    dashboard = [r for r in routers if r.prefix.startswith("/dashboard")]
    writes = [
        route
        for router in dashboard
        for route in router.routes
        if isinstance(route, APIRoute) and set(route.methods or ()) - {"GET", "HEAD"}
    ]
    assert len(writes) >= 6  # login, logout, annotate, ack, silence, maintenance
    for router in dashboard:
        calls = [d.dependency for d in router.dependencies]
        assert check_csrf in calls, f"a /dashboard router ({router.routes}) lacks check_csrf"


def test_a_session_stops_working_when_its_key_is_revoked(web: Web) -> None:
    with Session(web.engine) as session:
        created = create_key(session, "a", ["read"])
        session.commit()
        key_id = created.record.id
    assert key_id is not None
    client = login(web, created.key)
    assert client.get("/dashboard").status_code == 200
    with Session(web.engine) as session:
        revoke_key(session, key_id)
        session.commit()
    assert client.get("/dashboard").status_code == 303


def test_logout_needs_the_csrf_token_and_ends_the_session(web: Web) -> None:
    client = login(web, web.keys["read"])
    token = csrf(client, "/dashboard")
    refused = client.post("/dashboard/logout")
    assert refused.status_code == 403
    answer = client.post("/dashboard/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    assert client.get("/dashboard").status_code == 303


def test_session_secret_is_generated_once_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=None, session_secret=None)
    first = load_web_keys(settings)
    path = tmp_path / SECRET_FILE
    assert path.is_file() and path.stat().st_mode & 0o777 == 0o600
    assert load_web_keys(settings) == first  # sessions survive a restart


def test_production_without_a_session_secret_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, env="production", session_secret=None)
    with pytest.raises(ValueError, match="IMON_SESSION_SECRET: not set"):
        load_web_keys(settings)
    assert not (tmp_path / SECRET_FILE).exists()


# CSRF on every dashboard form


def _forms(web: Web) -> list[tuple[str, str, dict[str, str]]]:
    """(page holding the form, where it posts, its fields) of every dashboard form."""
    anomaly, incident, channel = web.ids["anomaly"], web.ids["incident"], web.ids["channel"]
    return [
        (
            f"/dashboard/anomalies/{anomaly}",
            f"/dashboard/anomalies/{anomaly}/annotations",
            {"author": "ops", "text": "checked", "label": "confirmed"},
        ),
        (f"/dashboard/incidents/{incident}", f"/dashboard/incidents/{incident}/ack", {}),
        (
            f"/dashboard/incidents/{incident}",
            f"/dashboard/channels/{channel}/silence",
            {"minutes": "30", "back": f"/dashboard/incidents/{incident}"},
        ),
        (
            "/dashboard/satellites/A-SAT",
            "/dashboard/maintenance",
            {"satellite": "A-SAT", "start": "2024-03-02T00:00:00Z", "end": "2024-03-02T02:00:00Z"},
        ),
    ]


def test_every_dashboard_form_refuses_a_post_without_the_csrf_token(web: Web) -> None:
    client = login(web, web.keys["admin"])
    for page, action, fields in _forms(web):
        assert f'action="{action}"' in client.get(page).text
        for token in (None, "forged-token"):
            data = fields if token is None else {**fields, "csrf_token": token}
            answer = client.post(action, data=data)
            assert answer.status_code == 403, action
            assert "CSRF: the form's csrf_token is missing or does not match" in answer.text
    with Session(web.engine) as session:
        assert session.exec(select(Annotation)).first() is None
        assert session.exec(select(ChannelSilence)).first() is None
        assert session.exec(select(MaintenanceWindow)).first() is None
        incident = session.get(Incident, web.ids["incident"])
        assert incident is not None and incident.acknowledged_at is None


def test_every_dashboard_form_works_with_its_token(web: Web) -> None:
    client = login(web, web.keys["admin"])
    for page, action, fields in _forms(web):
        token = csrf(client, page)
        answer = client.post(action, data={**fields, "csrf_token": token})
        assert answer.status_code == 303, (action, answer.text)
        assert answer.headers["location"] == page  # back to the page of the form
    with Session(web.engine) as session:
        note = session.exec(select(Annotation)).one()
        assert (note.author, note.label) == ("ops", "confirmed")
        anomaly = session.get(Anomaly, web.ids["anomaly"])
        incident = session.get(Incident, web.ids["incident"])
        assert anomaly is not None and anomaly.status == "confirmed"
        assert incident is not None and incident.acknowledged_at is not None
        assert session.exec(select(ChannelSilence)).one().channel_id == web.ids["channel"]
        assert session.exec(select(MaintenanceWindow)).one().reason == ""


def test_dashboard_forms_answer_json_and_name_bad_fields(web: Web) -> None:
    client = login(web, web.keys["admin"])
    anomaly = web.ids["anomaly"]
    token = csrf(client, f"/dashboard/anomalies/{anomaly}")
    answer = client.post(
        f"/dashboard/anomalies/{anomaly}/annotations",
        data={"author": " ", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("author:")
    other = client.post(
        f"/dashboard/anomalies/{web.ids['b_anomaly']}/annotations",
        data={"author": "x", "csrf_token": token},
    )
    assert other.status_code == 404  # another tenant's anomaly is unknown


def test_a_read_only_session_cannot_post_forms(web: Web) -> None:
    client = login(web, web.keys["read"])
    page = client.get(f"/dashboard/anomalies/{web.ids['anomaly']}")
    assert 'id="annotate"' not in page.text
    token = TOKEN.search(page.text)
    assert token is not None  # the logout form
    answer = client.post(
        f"/dashboard/incidents/{web.ids['incident']}/ack", data={"csrf_token": token.group(1)}
    )
    assert answer.status_code == 403
    assert "admin" in answer.json()["detail"]


def test_api_routes_take_keys_without_csrf_and_ignore_the_session_cookie(web: Web) -> None:
    client = login(web, web.keys["admin"])
    path = f"/anomalies/{web.ids['anomaly']}/annotations"
    body = {"author": "ops", "text": "from a script"}
    assert client.post(path, json=body).status_code == 401  # the cookie is not a key
    keyed = client.post(path, json=body, headers={"X-API-Key": web.keys["admin"]})
    assert keyed.status_code == 201
