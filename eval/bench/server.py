"""`imon serve` (uvicorn) in its own process on a free loopback port, and load runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from eval.bench.common import free_port

logger = logging.getLogger(__name__)

#: API key the benchmark servers accept as the default tenant's admin
BENCH_KEY = "bench-admin-key-7d2e94c1a0b35f68"
START_TIMEOUT_S = 180.0


def server_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """Environment of a benchmark server: its own home, no simulator, high rate limits."""
    env = dict(os.environ)
    env.update(
        {
            "IMON_HOME": str(home),
            "IMON_PORT": str(port),
            "IMON_HOST": "127.0.0.1",
            "IMON_ADMIN_KEY": BENCH_KEY,
            "IMON_SIMULATOR": "false",
            "IMON_NOTIFY_DISPATCH": "false",
            "IMON_RATE_ASK_PER_MINUTE": "1000000",
            "IMON_RATE_INGEST_PER_MINUTE": "1000000",
            "IMON_LOG_LEVEL": "WARNING",
            "IMON_DATABASE_URL": "",
        }
    )
    env.update(extra)
    if not env["IMON_DATABASE_URL"]:
        del env["IMON_DATABASE_URL"]
    return env


@contextmanager
def running_server(home: Path, **extra: str) -> Iterator[str]:
    """Start `imon serve` with ``home``; yield its base URL once /health answers."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("imon")), "serve"],
        env=server_env(home, port, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, home)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (home / "server.log").read_text()[-2000:]
            raise RuntimeError(f"imon serve exited with {process.returncode}: {tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"imon serve did not answer /health within {START_TIMEOUT_S:.0f} s")


def load(*args: str) -> dict[str, Any]:
    """Run the load generator in its own process with ``args``; its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench.loadgen", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
