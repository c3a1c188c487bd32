"""The fixed store the QA set is asked against, built deterministically and cached.

It holds the seeded simulator replayed by the worker (satellite ``SIM-1``, with its
eclipse and telecommand events) and a few real SMAP/MSL channels read from the shared
data folder (never copied into the repository) and ingested with ``Pipeline.ingest``.
Building it runs the streaming detectors over every point (about a minute), so the
SQLite file is cached under the system temporary folder, keyed by the build settings
and the source of the packages that produce it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from eval.datasets import load_manifest, load_series
from ingestion.pipeline import ChannelSpec, Pipeline
from ingestion.worker import Worker, simulator_source
from store.db import make_engine, migrate

logger = logging.getLogger(__name__)

#: The "now" of every question of the QA set.
QA_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: Folder of the shared labelled data, beside the repository.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
#: Packages whose source decides what the store holds (the cache key hashes them).
_SOURCES = ("detection", "ingestion", "store")


@dataclass(frozen=True)
class StoreSpec:
    """What the QA store is built from."""

    seed: int = 7
    satellite: str = "SIM-1"
    cadence_s: float = 10.0
    backfill_hours: float = 26.0
    real_series: tuple[str, ...] = ("MSL/C-1", "MSL/T-9", "SMAP/A-1")
    now: str = field(default_factory=lambda: QA_NOW.isoformat())


def build_store(path: Path, spec: StoreSpec = StoreSpec(), data_dir: Path = SHARED_DATA) -> None:
    """Build the QA store at ``path`` (an SQLite file, replaced when it exists)."""
    if not (data_dir / "manifest.json").exists():
        raise FileNotFoundError(f"{data_dir} has no manifest.json: clone ../shared beside it")
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        pipeline = Pipeline(engine)
        now = datetime.fromisoformat(spec.now)

        # the simulator, replayed by the worker as in production
        source = simulator_source(
            seed=spec.seed,
            satellite=spec.satellite,
            cadence_s=spec.cadence_s,
            backfill_hours=spec.backfill_hours,
        )
        Worker(pipeline, [source], clock=lambda: now).run_once()

        # real channels: satellite = mission (SMAP, MSL), channel = telemetry id
        entries = {str(e["series_id"]): e for e in load_manifest(data_dir)}
        for series_id in spec.real_series:
            series = load_series(data_dir, entries[series_id])
            mission, channel = series_id.split("/")
            points = pd.DataFrame(
                {"ts": series.ts, "channel": channel, "value": series.values[:, 0]}
                if series.values.ndim == 2
                else {"ts": series.ts, "channel": channel, "value": series.values}
            )
            description = f"{mission} telemetry channel {channel} (NASA labelled anomaly set)"
            pipeline.ingest(
                mission,
                points,
                source=f"qa:{series_id}",
                specs={channel: ChannelSpec(unit=None, description=description)},
            )
    finally:
        engine.dispose()


def cached_store(spec: StoreSpec = StoreSpec(), cache_dir: Path | None = None) -> Path:
    """The path of a built QA store, building it once per spec and source version."""
    folder = cache_dir or Path(
        os.environ.get("IMON_QA_CACHE", Path(tempfile.gettempdir()) / "imon-qa")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"qa-{_key(spec)}.db"
    if not path.exists():
        logger.info("building the QA store at %s (about a minute)", path)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        build_store(partial, spec)
        shutil.move(partial, path)
    return path


def open_store(spec: StoreSpec = StoreSpec(), cache_dir: Path | None = None) -> Engine:
    """An engine on a private copy of the cached QA store (questions may write state)."""
    cached = cached_store(spec, cache_dir)
    copy = Path(tempfile.mkdtemp(prefix="imon-qa-")) / "qa.db"
    shutil.copyfile(cached, copy)
    return make_engine(f"sqlite:///{copy}")


def _key(spec: StoreSpec) -> str:
    digest = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode())
    root = Path(__file__).resolve().parents[2]
    for package in _SOURCES:
        for source in sorted((root / package).rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]
