"""Widget keys with per-key CORS, and signed plot and stream links (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from agent.plot_links import check_signed_link, sign_link
from app.cli import cli
from app.web_session import load_web_keys
from store.keys import create_key, find_key
from tests.web_security_helpers import PORTAL, Web, login, web_fixture  # noqa: F401

# Widget keys and CORS


def test_cli_creates_a_widget_key_with_its_origins(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMON_HOME", str(tmp_path))
    monkeypatch.setenv("IMON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    made = runner.invoke(
        cli,
        ["keys", "create", "--tenant", "acme", "--widget", "--origin", "https://Portal.example/"],
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    with Session(engine) as session:
        record = find_key(session, key)
        assert record is not None
        assert (record.kind, record.scopes, record.allowed_origins) == (
            "widget",
            ["read", "ask"],
            [PORTAL],
        )
    refused = runner.invoke(
        cli, ["keys", "create", "--tenant", "acme", "--widget", "--scope", "read,ingest"]
    )
    assert refused.exit_code == 2
    assert "ingest not allowed on a widget key" in refused.output
    no_origin = runner.invoke(cli, ["keys", "create", "--tenant", "acme", "--widget"])
    assert no_origin.exit_code == 2
    assert "origin: a widget key needs at least one allowed origin" in no_origin.output


@pytest.mark.parametrize("origin", ["*", "https://portal.example/path", "ftp://x", "null"])
def test_widget_key_origins_must_be_origins(engine: Engine, origin: str) -> None:
    with Session(engine) as session, pytest.raises(ValueError, match="is not an origin"):
        create_key(session, "a", ["read"], allowed_origins=[origin], kind="widget")


def test_widget_key_from_its_origin_gets_the_cors_header(web: Web) -> None:
    answer = web.client().post(
        "/ask",
        json={"question": "list channels"},
        headers={"X-API-Key": web.keys["widget"], "Origin": PORTAL},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert "Origin" in answer.headers["vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "https://portal.example.evil", None])
def test_widget_key_from_another_origin_or_none_is_refused(web: Web, origin: str | None) -> None:
    headers = {"X-API-Key": web.keys["widget"]} | ({"Origin": origin} if origin else {})
    answer = web.client().post("/ask", json={"question": "list channels"}, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith("origin:")
    assert "access-control-allow-origin" not in answer.headers


def test_widget_key_cannot_ingest_or_administer(web: Web) -> None:
    headers = {"X-API-Key": web.keys["widget"], "Origin": PORTAL}
    point = {
        "satellite": "A-SAT",
        "points": [{"channel": "x", "ts": "2024-03-01T00:00:00Z", "value": 1}],
    }
    assert web.client().post("/ingest", json=point, headers=headers).status_code == 403
    assert web.client().get("/metrics", headers=headers).status_code == 403


def test_a_key_without_origins_gets_no_cors_header(web: Web) -> None:
    answer = web.client().get(
        "/channels", headers={"X-API-Key": web.keys["read"], "Origin": PORTAL}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_preflight_is_answered_only_for_an_origin_a_key_lists(web: Web) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-api-key",
    }
    allowed = web.client().options("/ask", headers={"Origin": PORTAL, **asked})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "x-api-key" in allowed.headers["access-control-allow-headers"]
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = web.client().options("/ask", headers={"Origin": "https://evil.example", **asked})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_static_assets_stay_public(web: Web) -> None:
    for path in ("/static/widget.js", "/static/style.css", "/static/dashboard.js"):
        assert web.client().get(path).status_code == 200, path


# Signed links


def _img_src(html: str) -> str:
    found = re.search(r'id="anomaly-plot" src="([^"]+)"', html)
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def test_plot_of_a_page_is_a_signed_link_that_works_without_a_key(web: Web) -> None:
    client = login(web, web.keys["read"])
    src = _img_src(client.get(f"/dashboard/anomalies/{web.ids['anomaly']}").text)
    params = dict(parse_qsl(urlsplit(src).query))
    assert params["tenant"] == "a" and params["exp"].isdigit() and len(params["sig"]) == 64
    image = web.client().get(src)  # no key, no cookie: what an <img> sends cross-site
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"


def _resigned(src: str, **changes: str) -> str:
    path, _, query = src.partition("?")
    params = dict(parse_qsl(query))
    params.update(changes)
    return f"{path}?{urlencode(params)}"


@pytest.mark.parametrize(
    "change",
    [{"start": "2024-02-01T00:00:00Z"}, {"tenant": "b"}, {"exp": "9999999999"}, {"sig": "0" * 64}],
)
def test_a_tampered_signed_link_is_refused(web: Web, change: dict[str, str]) -> None:
    client = login(web, web.keys["read"])
    src = _img_src(client.get(f"/dashboard/anomalies/{web.ids['anomaly']}").text)
    answer = web.client().get(_resigned(src, **change))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "signature: does not match this link"


def test_an_expired_signed_link_is_refused(web: Web) -> None:
    keys = load_web_keys(web.settings)
    url = sign_link(
        f"/channels/{web.ids['channel']}/plot.png", "a", keys.links, int(time.time()) - 1
    )
    answer = web.client().get(url)
    assert answer.status_code == 403
    assert "expired" in answer.json()["detail"]


def test_a_signed_link_of_one_tenant_does_not_open_anothers_channel(web: Web) -> None:
    keys = load_web_keys(web.settings)
    url = sign_link(
        f"/channels/{web.ids['b_channel']}/plot.png", "a", keys.links, int(time.time()) + 60
    )
    assert web.client().get(url).status_code == 404


def test_signed_links_only_open_the_routes_meant_for_them(web: Web) -> None:
    keys = load_web_keys(web.settings)
    url = sign_link("/channels", "a", keys.links, int(time.time()) + 60)
    assert web.client().get(url).status_code == 401  # a signature is not a key elsewhere


def test_answer_plot_url_is_signed_and_opens_without_a_key(web: Web) -> None:
    answer = web.client().post(
        "/ask",
        json={"question": f"plot anomaly {web.ids['anomaly']}"},
        headers={"X-API-Key": web.keys["admin"]},
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["plot_url"]
    assert url and url.startswith(f"/channels/{web.ids['channel']}/plot.png?")
    assert "sig=" in url and "exp=" in url
    assert web.client().get(url).headers["content-type"] == "image/png"


def test_stream_link_is_signed_for_the_tenant_and_bound_to_the_origin(web: Web) -> None:
    answer = web.client().post(
        "/stream/link", headers={"X-API-Key": web.keys["widget"], "Origin": PORTAL}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == PORTAL
    url = answer.json()["url"]
    parts = urlsplit(url)
    keys = load_web_keys(web.settings)
    params = parse_qsl(parts.query)
    assert check_signed_link(parts.path, params, keys.links, time.time()) == "a"
    assert dict(params)["origin"] == PORTAL
    elsewhere = web.client().get(url, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert "another origin" in elsewhere.json()["detail"]
