"""The `imon` command line on a temporary IMON_HOME, with real data."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from eval.datasets import load_manifest, load_series
from eval.metrics import event_score

NAB_FILE = "nab/data/realKnownCause/machine_temperature_system_failure.csv"
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMON_URL", "http://127.0.0.1:9")  # nothing listens: local mode
    return tmp_path / "home"


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def test_ingest_then_ask_cites_anomalies_overlapping_the_labels(
    home: Path, shared_data: Path
) -> None:
    code, output = _invoke("ingest", str(shared_data / NAB_FILE), "--satellite", "NAB-MT")
    assert code == 0, output
    assert "22683 points stored" in output

    code, output = _invoke("ask", "--json", "which anomalies happened on NAB-MT?")
    assert code == 0, output
    answer = json.loads(output)
    entry = next(e for e in load_manifest(shared_data) if e["path"] == NAB_FILE)
    windows = load_series(shared_data, entry).windows
    import pandas as pd

    cited = [(pd.Timestamp(a["start"]), pd.Timestamp(a["end"])) for a in answer["anomalies"]]
    assert event_score(windows, cited).found_windows >= 1
    for item in answer["anomalies"]:
        assert item["start"] in answer["answer"]


def test_ingesting_the_same_file_twice_adds_nothing(home: Path, shared_data: Path) -> None:
    path = str(shared_data / "nab/data/artificialWithAnomaly/art_daily_jumpsup.csv")
    assert _invoke("ingest", path, "--satellite", "ART", "--no-detect")[0] == 0
    code, output = _invoke("ingest", path, "--satellite", "ART", "--no-detect")
    assert code == 0
    assert "0 points stored" in output and "4032 unchanged" in output


def test_bad_rows_are_reported_with_row_and_field_and_good_rows_kept(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,bus_voltage\n"
        "2024-03-31T00:00:00,28.0\n"
        "2024-03-31T01:00:00,abc\n"
        "2024-03-31T02:30:00,28.1\n"
        "2024-03-31T03:00:00,inf\n"
        "2024-03-31T04:00:00,28.2\n"
    )
    code, output = _invoke("ingest", str(path), "--satellite", "S", "--tz", "Europe/Paris")
    assert code == 0, output
    assert "3 rows rejected" in output
    assert "row 2" in output and "bus_voltage" in output
    assert "row 3" in output  # 02:30 does not exist in Paris on 2024-03-31
    assert "2 points stored" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("a,b\nx,y\n", "time column")],
)
def test_unreadable_files_exit_with_a_clear_error(
    home: Path, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "file.csv"
    path.write_text(content)
    code, output = _invoke("ingest", str(path), "--satellite", "S")
    assert code == 2
    assert message in output.lower()


def test_detect_and_reindex_work_on_stored_points(home: Path, shared_data: Path) -> None:
    path = str(shared_data / "nab/data/artificialWithAnomaly/art_daily_jumpsup.csv")
    assert _invoke("ingest", path, "--satellite", "ART", "--no-detect")[0] == 0

    code, output = _invoke("detect", "--satellite", "ART", "--channel", "value", "--save")
    assert code == 0, output
    assert "2014-04-11" in output  # the labelled jump of art_daily_jumpsup

    code, output = _invoke("reindex")
    assert code == 0, output
    assert "indexed" in output and "indexed 0 " not in output


def test_unknown_channel_for_detect_is_a_clear_error(home: Path) -> None:
    code, output = _invoke("detect", "--channel", "nope")
    assert code == 2
    assert "--channel 'nope'" in output


def test_second_writer_is_refused_while_a_server_holds_the_home(
    home: Path, shared_data: Path
) -> None:
    from app.runtime import build_services

    services = build_services(Settings(home=home, index=False))
    try:
        path = str(shared_data / "nab/data/artificialWithAnomaly/art_daily_jumpsup.csv")
        code, output = _invoke("ingest", path, "--satellite", "ART")
    finally:
        services.close()
    assert code == 2
    assert "Stop the server" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = _free_port()
    settings = Settings(home=tmp_path / "server", worker=False, index=False, port=port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("IMON_URL", url)
    monkeypatch.setenv("IMON_HOME", str(tmp_path / "client"))
    yield url
    server.should_exit = True
    thread.join(10)


def test_replay_sends_a_file_over_http_and_ask_uses_the_server(
    live_server: str, shared_data: Path
) -> None:
    path = str(shared_data / "smap_msl/test/A-1.npy")
    code, output = _invoke(
        "replay",
        path,
        "--satellite",
        "SMAP",
        "--start",
        "2024-01-01T00:00:00Z",
        "--cadence",
        "1min",
        "--batch",
        "5000",
        "--column",
        "0",
    )
    assert code == 0, output
    assert "sent 8640 points: 8640 stored" in output
    assert "anomalies new" in output  # the test server detects inline (tests/conftest.py)

    code, output = _invoke("ask", "--json", "which anomalies happened on SMAP?")
    assert code == 0, output
    answer = json.loads(output)
    assert answer["anomalies"], answer["answer"]
    assert all(a["satellite"] == "SMAP" for a in answer["anomalies"])
