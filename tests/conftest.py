"""Shared fixtures: stores on SQLite and PostgreSQL, the shared data folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from detection import enable_compile_cache
from store.db import make_engine, migrate
from tests.auth_helpers import ADMIN_KEY  # noqa: F401  (sets IMON_ADMIN_KEY first)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# pushes detected inside the request, so tests see anomalies right after a push; the
# background stage is tested with IMON_PUSH_DETECTION=background set explicitly
os.environ.setdefault("IMON_PUSH_DETECTION", "inline")
enable_compile_cache()

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "IMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_ready() -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False
        ).returncode
        == 0
    )


def _start_postgres() -> None:
    """Start the machine's PostgreSQL cluster when it is down."""
    if _postgres_ready() or shutil.which("pg_ctlcluster") is None:
        return
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
    )
    for _ in range(30):
        if _postgres_ready():
            return
        time.sleep(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only labelled data beside the project."""
    if not (SHARED_DATA / "manifest.json").exists():
        raise RuntimeError(f"{SHARED_DATA} is missing: clone the project beside ../shared")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    _start_postgres()
    name = f"imon_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store on each supported database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'imon.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = _fresh_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite store."""
    engine = _fresh_engine(f"sqlite:///{tmp_path / 'imon.db'}")
    yield engine
    engine.dispose()
