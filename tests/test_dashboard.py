"""Dashboard pages rendered on the server: status, content, escaping, ISO dates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.settings import Settings
from store import repository
from store.repository import AnomalyWrite
from tests.auth_helpers import AUTH_HEADERS

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script>"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")


def _seed(app: Any) -> dict[str, int]:
    """Points on two channels (one with a hostile name), an anomaly on each, an incident."""
    services = app.state.services
    ts = pd.date_range(T0 - timedelta(hours=2), periods=240, freq="1min", tz="UTC")
    values = np.sin(np.arange(240) / 10.0)
    frame = pd.concat(
        pd.DataFrame({"ts": ts, "channel": name, "value": values}) for name in ("BAT_V", EVIL)
    )
    services.pipeline.ingest("SAT-1", frame, detect=False)
    ids: dict[str, int] = {}
    with Session(services.engine) as session:
        satellite = repository.get_or_create_satellite(session, "SAT-1")
        for name, severity in (("BAT_V", "high"), (EVIL, "low")):
            channel_id = repository.get_or_create_channel(session, satellite, name).id
            assert channel_id is not None
            written = repository.upsert_anomalies(
                session,
                channel_id,
                [
                    AnomalyWrite(
                        "test", "spike", T0, T0 + timedelta(minutes=5), 9.0, severity, False, {}
                    )
                ],
            )
            anomaly_id = written[0][0].id
            assert anomaly_id is not None
            ids[name] = anomaly_id
        session.commit()
    if getattr(services.pipeline, "incidents", None) is not None:
        services.pipeline.incidents.record(list(ids.values()))
    return ids


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, int]]]:
    settings = Settings(home=tmp_path, worker=False, index=False, notify_dispatch=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as client:
        yield client, _seed(client.app)


def test_overview_lists_satellites_with_health_and_iso_dates(
    seeded: tuple[TestClient, dict[str, int]],
) -> None:
    client, _ = seeded
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'data-satellite="SAT-1"' in page.text
    assert "2024-05-01T12:00:00Z" in page.text
    assert "2024-05-01T13:59:00Z" in page.text  # latest data time of SAT-1
    assert 'class="sev sev-high"' in page.text  # the worst open severity


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard",
        "/dashboard/satellites/SAT-1",
        "/dashboard/anomalies",
        "/dashboard/anomalies?satellite=SAT-1&kind=spike&min_severity=low",
        "/dashboard/anomalies?start=2024-05-01T00:00:00Z&end=2024-05-02T00:00:00Z",
        "/dashboard/incidents",
        "/dashboard/notifications",
        "/dashboard/widget-demo",
    ],
)
def test_dashboard_pages_answer_200_and_escape_channel_names(
    seeded: tuple[TestClient, dict[str, int]], path: str
) -> None:
    client, _ = seeded
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert "<script>alert(" not in page.text


def test_anomaly_page_escapes_the_channel_name_and_links_the_plot(
    seeded: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = seeded
    page = client.get(f"/dashboard/anomalies/{ids[EVIL]}")
    assert page.status_code == 200
    assert "<script>alert(" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    plot = re.search(r'id="anomaly-plot" src="([^"]+)"', page.text)
    assert plot is not None
    keyless = TestClient(client.app)  # an <img> sends no key: the link is signed
    image = keyless.get(plot.group(1).replace("&amp;", "&"))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    # the feedback form posts to the dashboard, with its CSRF field
    assert f'action="/dashboard/anomalies/{ids[EVIL]}/annotations"' in page.text
    assert 'name="csrf_token"' in page.text
    assert "Possible explanations" in page.text


def test_anomaly_filter_keeps_only_matching_anomalies(
    seeded: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = seeded
    page = client.get("/dashboard/anomalies", params={"min_severity": "high"})
    assert f'data-anomaly-id="{ids["BAT_V"]}"' in page.text
    assert f'data-anomaly-id="{ids[EVIL]}"' not in page.text


def test_anomaly_filter_with_a_naive_date_says_what_is_wrong(
    seeded: tuple[TestClient, dict[str, int]],
) -> None:
    client, _ = seeded
    page = client.get("/dashboard/anomalies", params={"start": "2024-05-01T00:00:00"})
    assert page.status_code == 200
    assert "start: &#39;2024-05-01T00:00:00&#39; has no time zone; add Z for UTC" in page.text


def test_incident_page_shows_the_timeline(seeded: tuple[TestClient, dict[str, int]]) -> None:
    client, _ = seeded
    listing = client.get("/dashboard/incidents")
    found = re.search(r'data-incident-id="(\d+)"', listing.text)
    if found is None:
        pytest.skip("no incident tracker in this build")
    page = client.get(f"/dashboard/incidents/{found.group(1)}")
    assert page.status_code == 200
    assert 'class="timeline"' in page.text
    assert "opened" in page.text
    assert ISO_Z.search(page.text)
    assert "<script>alert(" not in page.text


@pytest.mark.parametrize(
    "path",
    ["/dashboard/anomalies/999999", "/dashboard/incidents/999999", "/dashboard/satellites/X"],
)
def test_unknown_records_get_a_404_page(
    seeded: tuple[TestClient, dict[str, int]], path: str
) -> None:
    client, _ = seeded
    page = client.get(path)
    assert page.status_code == 404
    assert "Not found" in page.text


def test_widget_script_and_styles_are_served(seeded: tuple[TestClient, dict[str, int]]) -> None:
    client, _ = seeded
    script = client.get("/static/widget.js")
    assert script.status_code == 200
    assert "attachShadow" in script.text
    assert client.get("/static/style.css").status_code == 200
    demo = client.get("/dashboard/widget-demo")
    assert 'src="http://testserver/static/widget.js" data-api-key="demo-key"' in demo.text
