"""KairosDB-compatible push and query, /metrics and /health with a configured source."""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from tests.auth_helpers import AUTH_HEADERS
from tests.kairos_fake import FakeKairosDB, serve

T0_MS = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)
SECOND_MS = 1000


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=tmp_path, database_url=url, worker=False, index=False, max_points_per_push=5000
    )
    with TestClient(create_app(settings), headers=AUTH_HEADERS) as test_client:
        yield test_client


def _query(client: TestClient, metric: str, tags: dict[str, Any], **extra: Any) -> Any:
    body = {
        "start_absolute": T0_MS,
        "end_absolute": T0_MS + 10**9,
        "metrics": [{"name": metric, "tags": tags, **extra}],
    }
    response = client.post("/api/v1/datapoints/query", json=body)
    assert response.status_code == 200, response.text
    return response.json()["queries"][0]


def test_client_payload_is_stored_and_read_back_equal(client: TestClient) -> None:
    tags = {"satellite": "SAT2", "unit": "deg C: (main)"}
    pairs = [[T0_MS + i * SECOND_MS, float(i % 5) + 0.25] for i in range(50)]
    payload = [
        {"name": "SCH.M1", "datapoints": pairs[:49], "tags": tags, "ttl": 0},
        {"name": "SCH.M1", "timestamp": pairs[49][0], "value": pairs[49][1], "tags": tags},
        {"name": "SCH.M15", "datapoints": [[T0_MS, 7]], "tags": {"satellite": "SAT2"}},
    ]
    body = gzip.compress(json.dumps(payload).encode())

    pushed = client.post(
        "/api/v1/datapoints",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    read = _query(client, "SCH.M1", {"satellite": "SAT2"})
    desc = _query(client, "SCH.M1", {"unit": ["deg C: (main)", "other"]}, order="desc", limit=3)
    other = _query(client, "SCH.M15", {"satellite": ["SAT2"]})
    none = _query(client, "SCH.M1", {"satellite": "SAT3"})
    channels = client.get("/channels").json()
    names = client.get("/api/v1/metricnames").json()

    assert pushed.status_code == 204, pushed.text
    assert read["results"][0]["values"] == pairs
    assert read["results"][0]["tags"] == {"satellite": ["SAT2"], "unit": ["deg C: (main)"]}
    assert read["sample_size"] == 50
    assert desc["results"][0]["values"] == pairs[::-1][:3]
    assert other["results"][0]["values"] == [[T0_MS, 7.0]]
    assert none["results"][0]["values"] == [] and none["results"][0]["tags"] == {}
    assert sorted((c["satellite"], c["name"]) for c in channels) == [
        ("SAT2", "SCH.M15"),
        ("SAT2", "SCH.M1{unit=deg C: (main)}"),
    ]
    assert names == {"results": ["SCH.M1", "SCH.M15"]}


def test_push_without_satellite_tag_goes_to_the_default_satellite(client: TestClient) -> None:
    payload = [{"name": "temp", "datapoints": [[T0_MS, 1.5]], "tags": {"host": "gs1"}}]

    assert client.post("/api/v1/datapoints", json=payload).status_code == 204
    read = _query(client, "temp", {"satellite": "default"})

    assert read["results"][0]["values"] == [[T0_MS, 1.5]]
    assert read["results"][0]["tags"] == {"host": ["gs1"], "satellite": ["default"]}


def test_pushed_spike_is_detected(client: TestClient) -> None:
    rng = np.random.default_rng(3)
    values = 10.0 + rng.normal(0, 0.1, 3000)
    values[2500] += 8.0
    points = [[T0_MS + i * 10 * SECOND_MS, float(v)] for i, v in enumerate(values)]
    tags = {"satellite": "SAT2"}

    for offset in range(0, len(points), 1000):
        chunk = [{"name": "SCH.M1", "datapoints": points[offset : offset + 1000], "tags": tags}]
        assert client.post("/api/v1/datapoints", json=chunk).status_code == 204
    found = client.get("/anomalies", params={"satellite": "SAT2", "kind": "spike"}).json()

    spike = datetime.fromtimestamp((T0_MS + 2500 * 10 * SECOND_MS) / 1000, UTC)
    starts = [datetime.fromisoformat(a["start"].replace("Z", "+00:00")) for a in found["items"]]
    assert any(abs(s - spike) <= timedelta(minutes=2) for s in starts), found


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ({"datapoints": [[T0_MS, 1]]}, "metric[0].name: expected a non-empty string"),
        ({"name": "m", "datapoints": [[T0_MS, "abc"]]}, "metric[0](name=m).datapoints[0][1]: "),
        ({"name": "m", "datapoints": [[T0_MS, math.nan]]}, "datapoints[0][1]: nan is not finite"),
        ({"name": "m", "datapoints": [["x", 1]]}, "datapoints[0][0]: 'x' is not epoch millisec"),
        ({"name": "m", "datapoints": [[T0_MS]]}, "datapoints[0]: expected [ms, value]"),
        ({"name": "m", "datapoints": 5}, "(name=m).datapoints: expected a list of [ms, value]"),
        ({"name": "m", "timestamp": T0_MS}, "metric[0](name=m).value: expected a number"),
        ({"name": "m", "tags": {"a": 1}, "datapoints": [[T0_MS, 1]]}, "(name=m).tags: expected"),
        ({"name": "m", "type": "string", "datapoints": [[T0_MS, "x"]]}, "type: 'string' is not"),
        ({"name": "m", "datapoints": [[-5e15, 1]]}, "datapoints[0][0]: -5000000000000000 ms"),
        ({"name": "m", "datapoints": [[1e300, 1]]}, "[0][0]: 1000000000000000052504760255204"),
        ({"name": "m"}, "metric[0](name=m).datapoints: missing"),
    ],
)
def test_bad_points_are_named_and_good_ones_kept(
    client: TestClient, metric: dict[str, Any], expected: str
) -> None:
    good = {"name": "ok", "datapoints": [[T0_MS, 2.0]], "tags": {"satellite": "S"}}
    metric = {"tags": {"satellite": "S"}, **metric}

    body = json.dumps([metric, good], allow_nan=True)  # KairosDB clients may send NaN

    response = client.post("/api/v1/datapoints", content=body)

    assert response.status_code == 400
    assert expected in response.json()["errors"][0], response.json()
    assert _query(client, "ok", {"satellite": "S"})["results"][0]["values"] == [[T0_MS, 2.0]]


@pytest.mark.parametrize(
    ("content", "headers", "status", "expected"),
    [
        (b"{not json", {}, 400, "body: not valid JSON"),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, 400, "body: not valid gzip"),
        (b"[]", {"Content-Encoding": "br"}, 400, "Content-Encoding: 'br' is not supported"),
        (b'"text"', {}, 400, "body: expected a list of metrics"),
        (
            json.dumps(
                [{"name": "m", "datapoints": [[T0_MS + i, 1] for i in range(5001)]}]
            ).encode(),
            {},
            413,
            "body: 5001 datapoints in one push, at most 5000",
        ),
    ],
    ids=["json", "gzip", "encoding", "shape", "too-many-points"],
)
def test_unusable_pushes_are_refused_with_a_reason(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, expected: str
) -> None:
    response = client.post("/api/v1/datapoints", content=content, headers=headers)

    assert response.status_code == status
    assert expected in response.json()["errors"][0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"metrics": [{"name": "m"}]}, "start_absolute: missing"),
        ({"start_absolute": "x", "metrics": [{"name": "m"}]}, "start_absolute: expected epoch"),
        ({"start_absolute": 0, "metrics": []}, "metrics: expected a non-empty list"),
        (
            {"start_absolute": 0, "metrics": [{"name": "m", "aggregators": [{"name": "avg"}]}]},
            "metrics[0].aggregators: not supported",
        ),
        (
            {"start_relative": {"value": 1, "unit": "fortnights"}, "metrics": [{"name": "m"}]},
            "start_relative.unit: expected one of",
        ),
        (
            {"start_absolute": 0, "metrics": [{"name": "m", "order": "up"}]},
            "metrics[0].order: expected 'asc' or 'desc'",
        ),
    ],
)
def test_bad_queries_name_the_field(client: TestClient, body: dict, expected: str) -> None:
    response = client.post("/api/v1/datapoints/query", json=body)

    assert response.status_code == 400
    assert any(expected in error for error in response.json()["errors"]), response.json()


def test_relative_start_reads_recent_points(client: TestClient) -> None:
    now_ms = int(time.time() * 1000)
    payload = [{"name": "r", "datapoints": [[now_ms - 30_000, 1.0], [now_ms - 7_200_000, 2.0]]}]
    client.post("/api/v1/datapoints", json=payload)

    response = client.post(
        "/api/v1/datapoints/query",
        json={"start_relative": {"value": 1, "unit": "hours"}, "metrics": [{"name": "r"}]},
    )

    assert response.json()["queries"][0]["results"][0]["values"] == [[now_ms - 30_000, 1.0]]


def test_configured_source_shows_in_health_and_metrics(tmp_path: Path) -> None:
    fake = FakeKairosDB()
    now_ms = int(time.time() * 1000)
    fake.add(
        "SCH.M1", {"satellite": "SAT2"}, [(now_ms - 60_000 + i * 1000, 1.0) for i in range(30)]
    )
    fake.add("SCH.M1", {"satellite": "SAT2"}, [(now_ms - 20_000, math.nan)])
    with serve(fake) as url:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            "[[sources]]\n"
            f'type = "kairosdb"\nname = "sky"\nurl = "{url}"\nmetrics = ["SCH.M1"]\n'
            'tags = {satellite = "SAT2"}\ninterval_s = 0.2\nchunk_hours = 1\n'
            "[[sources]]\n"
            'type = "kairosdb"\nname = "down"\nurl = "http://127.0.0.1:9"\n'
            'metrics = ["X"]\nsatellite = "S"\ninterval_s = 0.2\nretries = 0\n',
            encoding="utf-8",
        )
        settings = Settings(home=tmp_path, sources_file=sources, index=False, worker=True)
        with TestClient(create_app(settings), headers=AUTH_HEADERS) as client:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                health = {s["name"]: s for s in client.get("/health").json()["sources"]}
                if health["sky"]["points"] >= 30 and health["down"]["errors"] >= 1:
                    break
                time.sleep(0.1)
            metrics = client.get("/metrics")

    assert health["sky"]["points"] == 30 and health["sky"]["rejected"] >= 1
    assert 0 < health["sky"]["lag_s"] < 120
    assert "ConnectError" in health["down"]["last_error"]
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'imon_source_points_ingested_total{source="sky"} 30.0' in text
    assert 'imon_source_points_rejected_total{source="sky"}' in text
    assert 'imon_source_errors_total{source="down"}' in text
    assert 'imon_source_lag_seconds{source="sky"}' in text
    assert 'imon_source_healthy{source="down"} 0.0' in text
    assert "imon_points_ingested_total 30.0" in text
    assert "imon_sources 2.0" in text
