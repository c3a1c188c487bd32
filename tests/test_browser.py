"""The dashboard and the chat widget in headless Chromium (Debian's, driven by Playwright).

The service runs with uvicorn in a thread on 127.0.0.1; screenshots are kept under
``var/test-artifacts/``. Chromium comes from ``scripts/install-browser.sh`` (apt), never
from ``playwright install``. The browser logs in to the dashboard through its login page
(no key header), and the widget runs on a customer-like portal served from another
origin (another port) with a widget key limited to that origin, so CORS is exercised.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session

from app.main import create_app
from app.settings import Settings
from store import queries, repository
from store.keys import create_key
from store.repository import AnomalyWrite
from tests.auth_helpers import ADMIN_KEY

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SATELLITE = "SAT-1"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")


@dataclass
class Live:
    url: str
    app: Any
    spike_id: int


@dataclass
class Portal:
    """A customer's portal on another origin: pages by path, served by a tiny HTTP server."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ingest_with_spike(app: Any) -> int:
    """A day of a noisy sine on BAT_V with a spike at 20:00; the spike anomaly's id."""
    rng = np.random.default_rng(7)
    n = 1500
    values = np.sin(np.arange(n) * 2 * np.pi / 60) + rng.normal(0, 0.05, n)
    values[1200:1203] += 6.0
    frame = pd.DataFrame(
        {
            "ts": pd.date_range(T0, periods=n, freq="1min"),
            "channel": "BAT_V",
            "value": values,
        }
    )
    services = app.state.services
    services.pipeline.ingest(SATELLITE, frame)
    with Session(services.engine) as session:
        spikes, _ = queries.list_anomalies(session, satellite=SATELLITE, kind="spike")
    assert spikes, "the injected spike was not detected"
    return spikes[0].id


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed by the project's script when it is missing."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            pytest.skip("/usr/bin/chromium is missing; run scripts/install-browser.sh as root")
        subprocess.run(["bash", str(ROOT / "scripts" / "install-browser.sh")], check=True)
    return CHROMIUM


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = _free_port()
    home = tmp_path_factory.mktemp("browser-home")
    settings = Settings(home=home, worker=False, index=False, port=port, notify_dispatch=False)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Live(f"http://127.0.0.1:{port}", app, _ingest_with_spike(app))
    finally:
        server.should_exit = True
        thread.join(10)


def _portal_handler(pages: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    """The portal's origin differs from the service's by its port."""
    port = _free_port()
    found = Portal(f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _portal_handler(found.pages))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    thread.join(10)


def _widget_key(live: Live, origin: str) -> str:
    with Session(live.app.state.services.engine) as session:
        created = create_key(
            session, "default", ["read", "ask"], allowed_origins=[origin], kind="widget"
        )
        session.commit()
    return created.key


def _portal_page(live: Live, key: str) -> str:
    """A customer page embedding the widget, with hostile CSS of its own."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Acme portal</title>
<style>button, input, a {{ background: #ff0 !important; color: #c00 !important; }}</style>
</head><body><h1>Acme Space: mission portal</h1>
<script src="{live.url}/static/widget.js" data-api-key="{key}"></script></body></html>"""


@pytest.fixture
def widget_page(live: Live, portal: Portal, page: Page) -> Page:
    """The portal page with a widget key limited to the portal's origin, opened."""
    key = _widget_key(live, portal.origin)
    portal.pages["/portal"] = _portal_page(live, key)
    page.goto(f"{portal.origin}/portal")
    return page


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _log_in(live: Live, page: Page, key: str = ADMIN_KEY) -> None:
    page.goto(f"{live.url}/dashboard")
    expect(page.locator("form#login")).to_be_visible()  # no session: the login page
    page.fill("form#login input[name=api_key]", key)
    page.click("form#login button[type=submit]")
    expect(page.locator("form#logout")).to_be_visible()


@pytest.fixture
def page(live: Live, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A logged-in browser tab: the dashboard's session cookie, no key header."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    _log_in(live, opened)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _has(live: Live, path: str) -> bool:
    return path in live.app.openapi()["paths"]


def test_dashboard_lists_satellites_and_anomalies_with_iso_dates(live: Live, page: Page) -> None:
    page.goto(f"{live.url}/dashboard")
    row = page.locator(f'tr.satellite[data-satellite="{SATELLITE}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("2024-05-02T00:59:00Z")  # latest data
    anomaly = page.locator(f'tr.anomaly[data-anomaly-id="{live.spike_id}"]')
    expect(anomaly).to_contain_text("BAT_V")
    expect(anomaly).to_contain_text("2024-05-01T20:00:00Z")

    page.locator(f'a[href="/dashboard/satellites/{SATELLITE}"]').first.click()
    expect(page.locator("h1")).to_contain_text(SATELLITE)
    assert ISO_Z.search(page.locator("table.channels").inner_text())


def test_login_page_refuses_a_wrong_key_and_logout_ends_the_session(
    live: Live, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}/dashboard/anomalies")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.fill("form#login input[name=api_key]", "imon_00000000_wrong")
    page.click("form#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("API key: unknown or revoked")
    page.fill("form#login input[name=api_key]", ADMIN_KEY)
    page.click("form#login button[type=submit]")
    expect(page).to_have_url(f"{live.url}/dashboard/anomalies")  # back where it started
    cookie = next(c for c in context.cookies() if c["name"] == "imon_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_logged_in.png"))
    page.click("form#logout button[type=submit]")
    expect(page.locator("form#login")).to_be_visible()
    page.goto(f"{live.url}/dashboard")
    expect(page.locator("form#login")).to_be_visible()
    context.close()


def test_anomaly_page_shows_the_plot_and_takes_feedback(live: Live, page: Page) -> None:
    page.goto(f"{live.url}/dashboard/anomalies/{live.spike_id}")
    expect(page.locator("h1")).to_contain_text("spike")
    if _has(live, "/channels/{channel_id}/plot.png"):
        plot = page.locator("#anomaly-plot")
        expect(plot).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.getElementById('anomaly-plot');"
            " return i.complete && i.naturalWidth > 0; }"
        )
    expect(page.locator("ol.explanations, p.note").first).to_be_visible()

    if _has(live, "/anomalies/{anomaly_id}/annotations"):
        page.fill("#annotate input[name=author]", "ops@example.org")
        page.fill("#annotate input[name=text]", "battery test <b>load</b>")
        page.click("#annotate button[value=confirmed]")
        expect(page.locator("#annotate .result")).to_contain_text("confirmed")
        expect(page.locator("#anomaly-status")).to_have_text("confirmed")
        expect(page.locator("#annotations")).to_contain_text("battery test <b>load</b>")


def test_widget_answers_with_dates_and_links_to_cited_anomalies(
    live: Live, widget_page: Page
) -> None:
    page = widget_page
    widget = page.locator("#imon-chat-widget")
    page.locator("#imon-chat-widget .launcher").click()
    expect(widget.locator(".panel")).to_be_visible()
    widget.locator("input[name=question]").fill(f"which anomalies happened on {SATELLITE}?")
    widget.locator("form button[type=submit]").click()

    answer = widget.locator(".msg.answer").last
    expect(answer).to_contain_text("2024-05-01T20:00:00Z", timeout=30_000)
    link = answer.locator(f'a.anomaly-link[href$="/dashboard/anomalies/{live.spike_id}"]')
    expect(link).to_be_visible()
    conversation = page.evaluate("() => Object.keys(sessionStorage)")
    assert any(key.startswith("imon-widget-conversation:") for key in conversation)

    # The conversation goes on: "it" is the anomaly of the previous answer; a plot shows.
    widget.locator("input[name=question]").fill("plot it")
    widget.locator("form button[type=submit]").click()
    expect(widget.locator(".msg.answer")).to_have_count(2, timeout=30_000)
    if _has(live, "/channels/{channel_id}/plot.png"):
        plot = widget.locator(".msg.answer").last.locator("img.plot")
        expect(plot).to_be_visible(timeout=15_000)
        assert "sig=" in (plot.get_attribute("src") or "")  # a signed link, no key
        plot.evaluate(
            "img => img.complete && img.naturalWidth > 0 ? 0 :"
            " new Promise((ok, no) => { img.onload = ok; img.onerror = no; })"
        )
        assert plot.evaluate("img => img.naturalWidth") > 0

    # The host page's hostile CSS does not reach into the widget.
    colour = widget.locator(".launcher").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(36, 86, 199)"

    with page.context.expect_page() as opened:  # the link opens the dashboard in a new tab
        link.click()
    dashboard = opened.value
    dashboard.wait_for_load_state()
    assert dashboard.url.endswith(f"/dashboard/anomalies/{live.spike_id}")
    expect(dashboard.locator("h1")).to_contain_text("spike")


def test_widget_sends_its_widget_key_across_origins(
    live: Live, portal: Portal, widget_page: Page
) -> None:
    page = widget_page
    page.locator("#imon-chat-widget .launcher").click()
    with page.expect_response(lambda r: r.url.endswith("/ask")) as answered:
        page.locator("#imon-chat-widget input[name=question]").fill("list channels")
        page.locator("#imon-chat-widget form button[type=submit]").click()
    embedded = page.locator("script[data-api-key]").get_attribute("data-api-key") or ""
    assert embedded.startswith("imon_") and embedded != ADMIN_KEY
    response = answered.value
    sent = response.request.all_headers()
    assert sent.get("x-api-key") == embedded
    assert sent.get("origin") == portal.origin
    assert response.status == 200
    assert response.all_headers().get("access-control-allow-origin") == portal.origin
    expect(page.locator("#imon-chat-widget .msg.answer")).to_have_count(1, timeout=30_000)


def test_widget_key_of_another_origin_is_refused_in_the_browser(
    live: Live, portal: Portal, page: Page
) -> None:
    key = _widget_key(live, "https://elsewhere.example")
    portal.pages["/stolen"] = _portal_page(live, key)
    page.goto(f"{portal.origin}/stolen")
    page.locator("#imon-chat-widget .launcher").click()
    page.locator("#imon-chat-widget input[name=question]").fill("list channels")
    page.locator("#imon-chat-widget form button[type=submit]").click()
    # refused (403 without Access-Control-Allow-Origin): the page cannot read any answer
    expect(page.locator("#imon-chat-widget .msg.error")).to_be_visible(timeout=15_000)
    expect(page.locator("#imon-chat-widget .msg.answer")).to_have_count(0)


def test_widget_pops_up_a_proactive_message_for_a_new_incident(
    live: Live, widget_page: Page
) -> None:
    page = widget_page
    expect(page.locator("#imon-chat-widget")).to_have_attribute(
        "data-stream", "ready", timeout=15_000
    )

    services = live.app.state.services
    start = T0 + timedelta(days=1)
    with Session(services.engine) as session:
        satellite = repository.get_or_create_satellite(session, "SAT-2")
        channel_id = repository.get_or_create_channel(session, satellite, "TEMP").id
        assert channel_id is not None
        written = repository.upsert_anomalies(
            session,
            channel_id,
            [
                AnomalyWrite(
                    "test", "spike", start, start + timedelta(minutes=5), 9, "high", False, {}
                )
            ],
        )
        session.commit()
        anomaly_id = written[0][0].id
    assert anomaly_id is not None
    services.pipeline.incidents.record([anomaly_id])

    toast = page.locator("#imon-chat-widget .toast")
    expect(toast).to_contain_text("SAT-2", timeout=15_000)
    expect(toast).to_contain_text("2024-05-02T00:00:00Z")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget_proactive_toast.png"))
    toast.click()
    expect(page.locator("#imon-chat-widget .msg.push")).to_contain_text("incident #")


def test_incident_page_shows_the_timeline_and_acknowledges(live: Live, page: Page) -> None:
    if not _has(live, "/incidents/{incident_id}"):
        pytest.skip("no incidents in this build")
    page.goto(f"{live.url}/dashboard/incidents")
    first = page.locator("tr.incident a").first
    expect(first).to_be_visible()
    first.click()
    expect(page.locator("ol.timeline li").first).to_contain_text("opened")
    assert ISO_Z.search(page.locator("ol.timeline").inner_text())
    ack = page.locator("#ack button")
    if ack.count():
        ack.click()
        expect(page.locator("#ack .result")).to_have_text("Acknowledged.")
