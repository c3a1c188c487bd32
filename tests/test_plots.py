"""Channel series for display, PNG plots, and the agent's plot links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.plot_links import plot_url_for
from app.main import create_app
from app.settings import Settings
from store.repository import (
    AnomalyWrite,
    get_or_create_channel,
    get_or_create_satellite,
    upsert_anomalies,
    write_points,
)
from store.series import downsampled
from tests.auth_helpers import AUTH_HEADERS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _store_year(engine: Engine) -> int:
    """One year of a daily sine every 5 minutes, with one anomaly; the channel id."""
    ts = pd.Series(pd.date_range(YEAR_START, YEAR_START + timedelta(days=366), freq=STEP))
    per_day = timedelta(days=1) / STEP
    values = 28.0 + np.sin(2 * np.pi * np.arange(len(ts), dtype=float) / per_day)
    with Session(engine) as session:
        satellite = get_or_create_satellite(session, "PLOT-1")
        channel = get_or_create_channel(session, satellite, "bus_voltage", "V")
        assert channel.id is not None
        write_points(session, channel.id, ts, values)
        start = YEAR_START + timedelta(days=100)
        upsert_anomalies(
            session,
            channel.id,
            [AnomalyWrite("t", "spike", start, start + timedelta(hours=2), 9, "high", False, {})],
        )
        session.commit()
        return channel.id


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, int]]:
    home = tmp_path_factory.mktemp("imon-plots")
    settings = Settings(home=home, worker=False, simulator=False, index=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        services = test_client.app.state.services  # type: ignore[attr-defined]
        channel_id = _store_year(services.engine)
        yield test_client, channel_id


def test_plot_of_a_year_is_a_png_drawn_quickly(client: tuple[TestClient, int]) -> None:
    test_client, channel_id = client
    test_client.get(
        f"/channels/{channel_id}/plot.png",
        params={"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
    )

    started = time.perf_counter()
    response = test_client.get(f"/channels/{channel_id}/plot.png")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content[:8] == PNG_MAGIC
    assert elapsed < 2.0, f"a year took {elapsed:.2f} s"


def test_series_is_bucketed_to_at_most_max_points(client: tuple[TestClient, int]) -> None:
    test_client, channel_id = client

    body = test_client.get(f"/channels/{channel_id}/series", params={"max_points": 500}).json()

    assert 400 < len(body["points"]) <= 500
    assert body["total_points"] == sum(p["count"] for p in body["points"]) > 100_000
    assert body["bucket_s"] > 0 and body["start"] == "2024-01-01T00:00:00Z"
    assert all(26.9 < p["min"] <= p["max"] < 29.1 for p in body["points"])
    assert max(p["max"] for p in body["points"]) > 28.99  # the peaks survive downsampling


def test_short_series_comes_back_raw(client: tuple[TestClient, int]) -> None:
    test_client, channel_id = client
    params = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00Z"}

    body = test_client.get(f"/channels/{channel_id}/series", params=params).json()

    assert body["bucket_s"] == 0 and len(body["points"]) == 13
    assert body["points"][1]["ts"] == "2024-01-01T00:05:00Z"
    assert all(p["min"] == p["max"] and p["count"] == 1 for p in body["points"])


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/channels/424242/plot.png", {}, 404),
        ("/channels/424242/series", {}, 404),
        ("/channels/{id}/plot.png", {"start": "2024-01-01T00:00:00"}, 422),
        (
            "/channels/{id}/series",
            {"start": "2024-02-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
            422,
        ),
        ("/channels/{id}/series", {"max_points": 1}, 422),
    ],
)
def test_bad_plot_requests_are_refused(
    client: tuple[TestClient, int], path: str, params: dict[str, str], status: int
) -> None:
    test_client, channel_id = client
    response = test_client.get(path.format(id=channel_id), params=params)
    assert response.status_code == status, response.text


def test_downsampling_buckets_agree_on_each_database(engine: Engine) -> None:
    ts = pd.Series(pd.date_range(YEAR_START, periods=1000, freq="1min"))
    with Session(engine) as session:
        satellite = get_or_create_satellite(session, "DB-1")
        channel = get_or_create_channel(session, satellite, "x")
        assert channel.id is not None
        write_points(session, channel.id, ts, np.arange(1000, dtype=float))
        session.commit()
        end = YEAR_START + timedelta(minutes=999)
        series = downsampled(session, channel.id, YEAR_START, end, max_points=100)

    rows = series.rows()
    assert len(rows) == 100 and sum(r[3] for r in rows) == 1000
    assert rows[0] == (YEAR_START, 0.0, 9.0, 10) and rows[-1][1:] == (990.0, 999.0, 10)


def test_plot_url_for_links_the_channel_plot_with_utc_dates() -> None:
    url = plot_url_for(7, "2024-03-02T11:00:00+01:00", datetime(2024, 3, 2, 12, tzinfo=UTC))

    assert url == "/channels/7/plot.png?start=2024-03-02T10:00:00Z&end=2024-03-02T12:00:00Z"
    assert plot_url_for(7) == "/channels/7/plot.png"
    with pytest.raises(ValueError, match="before start"):
        plot_url_for(7, "2024-03-02T12:00:00Z", "2024-03-02T10:00:00Z")
