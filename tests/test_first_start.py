"""The embedded default's first start: a development key, and the service answers with it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_first_start_without_admin_key_writes_a_dev_key_that_works(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", worker=False, index=False, admin_key=None)

    with TestClient(create_app(settings)) as client:
        key_file = tmp_path / "home" / "dev-api-key"
        key = key_file.read_text().strip()
        refused = client.get("/anomalies")
        accepted = client.get("/anomalies", headers={"X-API-Key": key})

    assert key.startswith("imon_")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert refused.status_code == 401
    assert accepted.status_code == 200


def test_second_start_keeps_the_first_dev_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", worker=False, index=False, admin_key=None)
    with TestClient(create_app(settings)):
        first = (tmp_path / "home" / "dev-api-key").read_text()
    with TestClient(create_app(settings)):
        second = (tmp_path / "home" / "dev-api-key").read_text()
    assert first == second


def _client(tmp_path: Path, host: str, **settings_kwargs: object) -> TestClient:
    settings = Settings(
        home=tmp_path / "home", worker=False, index=False, admin_key=None, **settings_kwargs
    )
    return TestClient(create_app(settings), client=(host, 50000))


def test_local_user_of_the_embedded_default_may_read_and_ask_without_a_key(
    tmp_path: Path,
) -> None:
    with _client(tmp_path, "127.0.0.1") as client:
        asked = client.post("/ask", json={"question": "which anomalies happened today?"})
        listed = client.get("/anomalies")
        pushed = client.post("/ingest", json={"satellite": "S", "points": []})
        foreign = client.get("/anomalies", headers={"Origin": "https://evil.example"})
    assert asked.status_code == 200 and listed.status_code == 200
    assert pushed.status_code == 403  # ingest still needs a key with that scope
    assert foreign.status_code == 401


def test_keyless_access_is_refused_off_loopback_or_when_switched_off(tmp_path: Path) -> None:
    with _client(tmp_path, "10.1.2.3") as remote:
        assert remote.get("/anomalies").status_code == 401
    with _client(tmp_path, "127.0.0.1", dev_loopback_access=False) as local:
        assert local.get("/anomalies").status_code == 401
