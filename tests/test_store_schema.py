"""The migrations build exactly the schema the SQLModel tables declare, on both databases."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import store


def _load_every_table_module() -> None:
    for module in pkgutil.iter_modules(store.__path__):
        if module.name.endswith("models"):
            importlib.import_module(f"store.{module.name}")


def test_migrated_store_matches_the_declared_tables_and_indexes(engine: Engine) -> None:
    _load_every_table_module()
    with engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert drift == [], f"a migration and the models disagree: {drift}"
