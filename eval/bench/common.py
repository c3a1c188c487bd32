"""What every benchmark shares: results, timing, synthetic signals, throw-away stores.

Every figure is reported next to a baseline measured in the same run on the same
machine, so the ratio holds across machines even when the absolute times do not.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from store.db import make_engine, migrate

#: Administrative PostgreSQL URL; each PostgreSQL benchmark makes and drops its own database.
PG_ADMIN_URL = os.environ.get(
    "IMON_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Figure:
    """One measured figure against its baseline.

    ``ratio`` is oriented so that larger is better for the measured path
    (e.g. baseline seconds / measured seconds, or measured points/s / baseline points/s).
    ``met`` is None where the issue sets no target for the figure.
    """

    benchmark: str
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    ratio: float
    target: str = "-"
    met: bool | None = None
    note: str = ""


@dataclass
class BenchResult:
    """The figures of one benchmark, the sizes it ran at and how long it took."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    sizes: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        """Append a figure and return it."""
        self.figures.append(figure)
        return figure

    def figure(self, name: str) -> Figure:
        """The figure called ``name``; KeyError when it was not measured."""
        for item in self.figures:
            if item.name == name:
                return item
        raise KeyError(f"{self.name} has no figure {name!r}")


def ratio(better: float, worse: float) -> float:
    """``better / worse`` guarded against zero (then infinity)."""
    return float("inf") if worse <= 0 else better / worse


def timed(func: Callable[[], object], repeat: int = 1) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``func``."""
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        func()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, linear interpolation."""
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def sine_signal(
    n: int, period: int = 50, seed: int = 0, anomaly_at: int | None = None
) -> NDArray[np.float64]:
    """A noisy sine of ``n`` points with one distorted half period.

    Parameters
    ----------
    n : int
        Number of points.
    period : int
        Period of the sine, points.
    seed : int
        Seed of the Gaussian noise (standard deviation 0.05).
    anomaly_at : int or None
        First point of the distorted stretch; None puts it two thirds of the way in.

    Returns
    -------
    ndarray of float64
        The signal; the distorted period is the one discord a matrix profile must find.
    """
    rng = np.random.default_rng(seed)
    x = np.sin(2 * np.pi * np.arange(n) / period) + rng.normal(0.0, 0.05, n)
    at = (2 * n) // 3 if anomaly_at is None else anomaly_at
    x[at : at + period // 2] = 0.3 * np.sin(np.linspace(0, 6 * np.pi, period // 2))
    return x


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> dict[str, str]:
    """Cores, CPU model, memory, Python and the git commit, for the report header."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        memory = f"{int(first[1]) / 1024 / 1024:.1f} GiB"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cores": str(os.cpu_count() or 1),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "commit": (commit or "unknown") + (" (with uncommitted changes)" if dirty else ""),
        "load": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def sqlite_store(folder: Path, name: str = "imon.db") -> Engine:
    """A migrated, empty SQLite store (WAL, as in production) in ``folder``."""
    path = folder / name
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def postgres_available() -> bool:
    """Whether the PostgreSQL server of ``PG_ADMIN_URL`` answers."""
    try:
        admin = create_engine(PG_ADMIN_URL)
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
        admin.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not available" here
        return False
    return True


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark, dropped afterwards; yields its URL."""
    name = f"imon_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_store(url: str) -> Engine:
    """A migrated engine on the (fresh) database at ``url``."""
    engine = make_engine(url)
    migrate(engine)
    return engine
