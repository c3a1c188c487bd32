"""Out-of-range numbers, deep nesting, control characters and bulky echoes get 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from tests.auth_helpers import AUTH_HEADERS

NOW = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path_factory.mktemp("hostile"), worker=False, index=False)
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


@pytest.mark.parametrize("ts", [1e20, -1e20, 1e300])
def test_epoch_too_large_for_a_date_is_a_point_error_and_good_points_stay(
    client: TestClient, ts: float
) -> None:
    points = [{"channel": "c", "ts": ts, "value": 1}, {"channel": "c", "ts": NOW, "value": 2}]
    response = client.post("/ingest", json={"satellite": "HOST-1", "points": points})
    body = response.json()
    assert response.status_code == 200, body
    assert body["inserted"] + body["unchanged"] == 1 and body["rejected"] == 1
    assert body["errors"][0]["field"] == "points[0].ts"
    assert "1970" in body["errors"][0]["reason"]


@pytest.mark.parametrize(
    "path",
    [
        "/anomalies/99999999999999999999",
        "/channels/99999999999999999999/series",
        "/anomalies?offset=99999999999999999999",
    ],
)
def test_numbers_beyond_64_bits_are_422_not_500(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text


def test_ask_about_a_huge_anomaly_id_is_not_a_server_error(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "explain anomaly 99999999999999999999999"})
    assert response.status_code < 500, response.text


def test_deeply_nested_kairosdb_push_is_400(client: TestClient) -> None:
    nested = "[" * 1000 + "]" * 1000
    body = '[{"name": "kd", "datapoints": ' + nested + "}]"
    response = client.post(
        "/api/v1/datapoints", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("channel", ["a\u0000b", "a\nb", "x\u001bq"])
def test_control_characters_in_channel_names_are_refused(client: TestClient, channel: str) -> None:
    points = [{"channel": channel, "ts": NOW, "value": 1}]
    response = client.post("/ingest", json={"satellite": "HOST-2", "points": points})
    assert response.json()["errors"][0]["reason"] == "contains control characters"
    push = [{"name": channel, "datapoints": [[1767225600000, 1.0]], "tags": {"satellite": "K"}}]
    assert client.post("/api/v1/datapoints", json=push).status_code == 400


def test_validation_errors_echo_only_a_short_slice_of_the_input(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "x" * 100_000})
    assert response.status_code == 422
    assert len(response.content) < 2_000


def test_ingest_of_a_file_without_one_valid_point_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2024-01-01T00:00:00Z,abc\n2024-01-01T00:01:00Z,nan\n")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--satellite", "S"])
    assert result.exit_code == 1
    assert "nothing was stored" in result.output


@pytest.mark.parametrize("name", ["", "   ", "a\nb"])
def test_cli_refuses_blank_or_control_character_satellite_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    path = tmp_path / "ok.csv"
    path.write_text("timestamp,value\n2024-01-01T00:00:00Z,1\n")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--satellite", name])
    assert result.exit_code == 2
    assert "--satellite" in result.output
