"""`imon replay`: send a file to the running service as if it were arriving live."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

logger = logging.getLogger(__name__)


class ReplayError(Exception):
    """The file could not be read or the service refused it."""


@retry(
    retry=retry_if_exception_type(httpx.TransportError),
    stop=stop_after_attempt(5),
    wait=wait_exponential_jitter(initial=0.5, max=8),
    reraise=True,
)
def _post(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(url, json=body)
    if response.status_code >= 400:
        raise ReplayError(f"the service answered {response.status_code}: {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


def replay_file(
    url: str,
    path: Path,
    satellite: str,
    *,
    speed: float = 0.0,
    shift_to_now: bool = False,
    batch: int = 1000,
    start: str | None = None,
    cadence: str | None = None,
    tz: str | None = None,
    columns: list[int | str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, int]:
    """Send the points of `path` in time order, `speed` times faster than they were taken.

    `headers` carry the API key (`app.auth.client_headers`).
    """
    from ingestion.errors import TelemetryFileError
    from ingestion.files import read_telemetry

    try:
        parsed = read_telemetry(path, tz=tz, start=start, cadence=cadence, columns=columns)
    except TelemetryFileError as error:
        raise ReplayError(str(error)) from None
    points = parsed.points.sort_values("ts", kind="stable").reset_index(drop=True)
    if points.empty:
        raise ReplayError(f"{path}: no valid point to send")
    if shift_to_now:
        points["ts"] = points["ts"] + (pd.Timestamp(datetime.now(UTC)) - points["ts"].max())

    totals = {
        "sent": 0,
        "inserted": 0,
        "rejected": parsed.error_count,
        "anomalies_new": 0,
        "detection_queued": 0,  # pushes answered before their points were detected
    }
    wall_start = time.monotonic()
    data_start = points["ts"].iloc[0]
    with httpx.Client(timeout=120, headers=headers) as client:
        for offset in range(0, len(points), batch):
            chunk = points.iloc[offset : offset + batch]
            if speed > 0:
                due = (chunk["ts"].iloc[0] - data_start).total_seconds() / speed
                time.sleep(max(0.0, due - (time.monotonic() - wall_start)))
            body = {
                "satellite": satellite,
                "points": [
                    {"channel": c, "ts": t.isoformat(), "value": float(v)}
                    for t, c, v in zip(chunk["ts"], chunk["channel"], chunk["value"], strict=True)
                ],
            }
            try:
                result = _post(client, f"{url}/ingest", body)
            except httpx.TransportError as error:
                raise ReplayError(f"cannot reach the service at {url}: {error}") from None
            totals["sent"] += len(chunk)
            totals["inserted"] += int(result["inserted"])
            totals["rejected"] += int(result["rejected"])
            if result.get("anomalies_new") is None:
                totals["detection_queued"] += 1
            else:
                totals["anomalies_new"] += int(result["anomalies_new"])
            logger.info("sent %d/%d points", totals["sent"], len(points))
    return totals
