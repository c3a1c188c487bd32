"""Benchmark 2: ingest throughput from Parquet and CSV into SQLite and PostgreSQL.

Measured: ``ingestion.files.read_telemetry`` then ``Pipeline.ingest(..., detect=False)``,
which is what ``imon ingest FILE --no-detect`` does (validation, idempotent writes,
checkpoints). Baseline: the same file read with pandas and its rows written into the
same ``point`` table of a fresh store with ``DataFrame.to_sql`` (SQLite) or one
``COPY`` (PostgreSQL, psycopg). Detection is left out of both: its cost per point is the
subject of the streaming benchmark.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from eval.bench.common import (
    BenchResult,
    Figure,
    postgres_available,
    postgres_database,
    postgres_store,
    ratio,
    sqlite_store,
)
from ingestion.files import read_telemetry
from ingestion.pipeline import Pipeline
from store import repository

logger = logging.getLogger(__name__)

NAME = "ingest"
SATELLITE = "BENCH-1"
TARGET_SQLITE_PARQUET = 200_000.0
TARGET_POSTGRES_SHARE = 0.5


@dataclass(frozen=True)
class IngestSizes:
    """Rows and channels of the generated wide file (points = rows x channels)."""

    rows: int = 50_000
    channels: int = 10
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    formats: tuple[str, ...] = ("parquet", "csv")


def write_files(folder: Path, rows: int, channels: int) -> dict[str, Path]:
    """A wide telemetry table (a UTC time column, one column per channel) as Parquet and CSV."""
    rng = np.random.default_rng(3)
    ts = pd.date_range("2026-01-01", periods=rows, freq="1s", tz="UTC")
    table = pd.DataFrame({"time": ts})
    for k in range(channels):
        table[f"ch_{k:03d}"] = np.round(rng.normal(20.0 + k, 1.0, rows), 6)
    paths = {"parquet": folder / "bench.parquet", "csv": folder / "bench.csv"}
    table.to_parquet(paths["parquet"], index=False)
    csv_table = table.assign(time=ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    csv_table.to_csv(paths["csv"], index=False)
    return paths


def run(sizes: IngestSizes = IngestSizes()) -> BenchResult:
    """Time ingest and the bulk-insert baseline for every format and database."""
    result = BenchResult(NAME, "Ingest throughput vs a plain bulk insert")
    points = sizes.rows * sizes.channels
    result.sizes = {"rows": sizes.rows, "channels": sizes.channels, "points per file": points}
    begin = time.perf_counter()
    databases = list(sizes.databases)
    if "postgresql" in databases and not postgres_available():
        databases.remove("postgresql")
        result.notes.append("PostgreSQL was not reachable: its figures are missing")
    with tempfile.TemporaryDirectory(prefix="imon-bench-ingest-") as tmp:
        folder = Path(tmp)
        files = write_files(folder, sizes.rows, sizes.channels)
        for database in databases:
            for fmt in sizes.formats:
                ours = _timed_store(database, folder, lambda e, f=files[fmt]: _ingest(e, f))
                base = _timed_store(database, folder, lambda e, f=files[fmt]: _baseline(e, f))
                _add(result, database, fmt, points / ours, points / base)
    result.seconds = time.perf_counter() - begin
    return result


def _add(result: BenchResult, database: str, fmt: str, ours: float, base: float) -> None:
    gain = ratio(ours, base)
    target, met = "-", None
    if database == "sqlite" and fmt == "parquet":
        target, met = f">= {TARGET_SQLITE_PARQUET:,.0f} points/s", ours >= TARGET_SQLITE_PARQUET
    elif database == "postgresql":
        target, met = "within 2x of COPY (ratio >= 0.5)", gain >= TARGET_POSTGRES_SHARE
    baseline = "pandas to_sql" if database == "sqlite" else "psycopg COPY"
    result.add(
        Figure(
            NAME,
            f"{fmt} -> {database}",
            ours,
            "points/s",
            f"{baseline} ({fmt} read by pandas)",
            base,
            gain,
            target,
            met,
        )
    )
    logger.info("%s -> %s: %.0f points/s, baseline %.0f", fmt, database, ours, base)


def _timed_store(database: str, folder: Path, work: object) -> float:
    """Seconds ``work(engine)`` takes on a fresh, migrated store of ``database``."""
    assert callable(work)
    if database == "sqlite":
        engine = sqlite_store(folder, f"{time.monotonic_ns()}.db")
        try:
            return _time(engine, work)
        finally:
            engine.dispose()
    with postgres_database() as url:
        engine = postgres_store(url)
        try:
            return _time(engine, work)
        finally:
            engine.dispose()


def _time(engine: Engine, work: object) -> float:
    assert callable(work)
    begin = time.perf_counter()
    work(engine)
    return time.perf_counter() - begin


def _ingest(engine: Engine, path: Path) -> None:
    parsed = read_telemetry(path)
    report = Pipeline(engine).ingest(SATELLITE, parsed.points, source="bench", detect=False)
    if report.inserted != len(parsed.points):
        raise RuntimeError(f"ingest stored {report.inserted} of {len(parsed.points)} points")


def _baseline(engine: Engine, path: Path) -> None:
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    table["time"] = pd.to_datetime(table["time"], utc=True)
    channel_ids = _channels(engine, [str(c) for c in table.columns if c != "time"])
    long = table.melt(id_vars="time", var_name="channel", value_name="value")
    rows = pd.DataFrame(
        {
            "channel_id": long["channel"].map(channel_ids).astype("int64"),
            "ts": long["time"].dt.tz_localize(None),
            "value": long["value"].astype(float),
        }
    )
    if engine.dialect.name == "sqlite":
        rows.to_sql("point", engine, if_exists="append", index=False, chunksize=50_000)
        return
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False)
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY point (channel_id, ts, value) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())


def _channels(engine: Engine, names: list[str]) -> dict[str, int]:
    with Session(engine) as session:
        satellite = repository.get_or_create_satellite(session, SATELLITE)
        ids = {}
        for name in names:
            channel = repository.get_or_create_channel(session, satellite, name)
            assert channel.id is not None
            ids[name] = channel.id
        session.commit()
    return ids
