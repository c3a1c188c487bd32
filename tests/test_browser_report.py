"""A simulator satellite's report, rendered by the service, in headless Chromium.

Reuses the Chromium and browser fixtures of ``tests/test_browser.py`` (Debian's Chromium
driven by Playwright) and keeps screenshots where it does, under ``var/test-artifacts/``.
The report is an API page: the tab sends the admin key, as automation would.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page
from sqlmodel import Session

from app.main import create_app
from app.settings import Settings
from ingestion.worker import simulator_source
from store import incidents, queries
from tests import test_browser as shared
from tests.auth_helpers import AUTH_HEADERS
from tests.notify_fakes import free_port

# the browser fixtures of test_browser.py, shared rather than copied
chromium = shared.chromium
browser = shared.browser

SATELLITE = "SIM-1"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@dataclass
class Served:
    url: str
    anomalies: int
    incidents: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The service on 127.0.0.1 with a day of simulator telemetry, detected."""
    port = free_port()
    home = tmp_path_factory.mktemp("report-home")
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
        services = app.state.services
        source = simulator_source(seed=7, satellite=SATELLITE, cadence_s=60, backfill_hours=24)
        for batch in source.poll(None, datetime.now(UTC)):
            services.pipeline.ingest(batch.satellite, batch.points, specs=batch.specs)
        with Session(services.engine) as session:
            _found, n_anomalies = queries.list_anomalies(session, satellite=SATELLITE)
            _items, n_incidents = incidents.list_incidents(session, satellite=SATELLITE)
        assert n_anomalies > 0 and n_incidents > 0, "the simulator's anomalies were not found"
        yield Served(f"http://127.0.0.1:{port}", n_anomalies, n_incidents)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tab sending the admin key; its screenshot is kept, JavaScript errors fail."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers=AUTH_HEADERS
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    shared.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(shared.ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_report_of_a_simulator_satellite_shows_incidents_anomalies_and_plots(
    served: Served, page: Page
) -> None:
    response = page.goto(f"{served.url}/reports/{SATELLITE}?period=24h")
    assert response is not None and response.status == 200

    heading = page.locator("h1").inner_text()
    incident_rows = page.locator("#incidents tr").count() - 1  # minus the header row
    anomaly_rows = page.locator("section.channel table tr:not(:first-child)").count()
    sections = page.locator("section.channel h3").all_inner_texts()
    plots = page.locator("img.plot")
    widths = [plots.nth(i).evaluate("img => img.naturalWidth") for i in range(plots.count())]
    meta = page.locator("p.meta").inner_text()
    shot = shared.ARTIFACTS / "report_simulator_satellite.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    assert heading == f"{SATELLITE}: monitoring report"
    assert incident_rows == min(served.incidents, 200) and incident_rows > 0
    assert 0 < anomaly_rows <= served.anomalies
    assert {s.split(" ")[0] for s in sections} >= {"bus_voltage", "wheel_speed"}
    assert widths and all(w > 100 for w in widths), "every plot is a loaded image"
    assert len(ISO_Z.findall(meta)) == 3, meta  # start, end and generation time
    assert f"{incident_rows} incidents" in meta
    assert Path(shot).stat().st_size > 20_000
