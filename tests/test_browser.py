"""The dashboard and the chat widget in headless Chromium (Debian's, driven by Playwright).

The service runs with uvicorn in a thread on 127.0.0.1; screenshots are kept under
``var/test-artifacts/``. Chromium comes from ``scripts/install-browser.sh`` (apt), never
from ``playwright install``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from store.repository import AnomalyWrite
from tests.auth_helpers import AUTH_HEADERS

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


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # the dashboard has no login page yet: the browser sends the admin key on every request
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers=AUTH_HEADERS
    )
    opened = context.new_page()
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


def test_widget_answers_with_dates_and_links_to_cited_anomalies(live: Live, page: Page) -> None:
    page.goto(f"{live.url}/dashboard/widget-demo")
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


def test_widget_sends_the_api_key_header(live: Live, page: Page) -> None:
    page.goto(f"{live.url}/dashboard/widget-demo")
    page.locator("#imon-chat-widget .launcher").click()
    with page.expect_request(lambda r: r.url.endswith("/ask")) as sent:
        page.locator("#imon-chat-widget input[name=question]").fill("list channels")
        page.locator("#imon-chat-widget form button[type=submit]").click()
    embedded = page.locator("script[data-api-key]").get_attribute("data-api-key") or ""
    assert embedded.startswith("imon_") and embedded != AUTH_HEADERS["X-API-Key"]
    # the context's extra header (the admin key) overrides page headers in Playwright
    assert sent.value.headers.get("x-api-key")


def test_widget_pops_up_a_proactive_message_for_a_new_incident(live: Live, page: Page) -> None:
    if not _has(live, "/stream"):
        pytest.skip("no /stream in this build")
    page.goto(f"{live.url}/dashboard/widget-demo")
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
