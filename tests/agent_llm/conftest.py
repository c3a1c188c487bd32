"""The seeded store of the LLM-mode tests, built once per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from agent import ToolContext
from tests.llm_fakes import NOW, build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, int]]]:
    """The LLM fixtures' store (``tests.llm_fakes.build_store``) and its anomaly ids."""
    engine, ids = build_store(tmp_path_factory.mktemp("llm") / "imon.db")
    yield engine, ids
    engine.dispose()


@pytest.fixture
def ctx(store: tuple[Engine, dict[str, int]]) -> ToolContext:
    """Tool context over the store, with the clock fixed at ``NOW``."""
    return ToolContext(engine=store[0], now=lambda: NOW)


@pytest.fixture
def ids(store: tuple[Engine, dict[str, int]]) -> dict[str, int]:
    """Ids of the store's named anomalies."""
    return store[1]
