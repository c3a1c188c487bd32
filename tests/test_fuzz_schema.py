"""Property-based fuzzing of the OpenAPI schema with schemathesis, in process (ASGI).

Every operation of `app.openapi()` gets a few generated requests with a valid admin key
of a tenant that owns some data: no answer may be a 5xx, and every answer must match the
status, media type and body schema the operation declares. Bounded (`MAX_EXAMPLES` per
operation) so the whole file stays well under a minute and a half on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.main import create_app
from app.runtime import build_services
from app.settings import Settings
from store.keys import create_key
from store.models import Anomaly, Channel, Event, Point, Satellite

#: Generated requests per operation.
MAX_EXAMPLES = 8
#: Streams never end: covered by the SSE tests instead.
SKIPPED = {("GET", "/stream")}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    """A satellite with a channel, points, an anomaly and an event, owned by `fuzz`."""
    with Session(engine) as session:
        satellite = Satellite(name="FUZZ-1", tenant="fuzz")
        session.add(satellite)
        session.flush()
        assert satellite.id is not None
        channel = Channel(satellite_id=satellite.id, name="temp", unit="C")
        session.add(channel)
        session.flush()
        assert channel.id is not None
        for minute in range(60):
            ts = T0 + timedelta(minutes=minute)
            session.add(Point(channel_id=channel.id, ts=ts, value=float(minute % 7)))
        session.add(
            Anomaly(
                channel_id=channel.id,
                start=T0 + timedelta(minutes=20),
                end=T0 + timedelta(minutes=22),
                kind="spike",
                score=8.0,
                severity="high",
                detector="fuzz",
            )
        )
        session.add(Event(satellite_id=satellite.id, ts=T0, kind="eclipse", text="entry"))
        session.commit()


@pytest.fixture
def fuzz_app(engine: Engine, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    settings = Settings(
        home=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        worker=False,
        index=False,
        notify_dispatch=False,
        rate_ask_per_minute=100_000,
        rate_ingest_per_minute=100_000,
    )
    _seed(engine)
    with Session(engine) as session:
        key = create_key(session, "fuzz", ["read", "ask", "ingest", "admin"]).key
        session.commit()
    # Services built once: schemathesis' ASGI client runs the app's lifespan again.
    services = build_services(settings)
    try:
        yield create_app(settings, services=services), key
    finally:
        services.close()


def _fuzz(operation: Any, key: str) -> list[str]:
    """Failures of `operation` (empty when every generated request passed the checks)."""
    failures: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)
        except FailureGroup as error:
            failures.append(f"{operation.label}: {str(error)[:1500]}")
        except Exception as error:  # an exception the app let escape: a 500 in production
            failures.append(f"{operation.label}: {type(error).__name__}: {error}"[:1500])

    run()
    return failures


def test_every_operation_answers_without_5xx_and_within_its_schema(
    fuzz_app: tuple[Any, str],
) -> None:
    app, key = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI schema is invalid: {result.err()}"
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        failures += _fuzz(operation, key)
        fuzzed += 1
    assert fuzzed >= 20
    assert not failures, "\n\n".join(failures[:10])
