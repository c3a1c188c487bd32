"""Polling KairosDB (and Skyminer, which speaks its REST API) as a telemetry source.

Each configured series (metric + tag set) is read with ``POST /api/v1/datapoints/query``
in chunks of ``chunk_hours``, from its checkpoint minus ``overlap_s`` (late points)
up to now. Re-read points are stored once: points are unique on (channel, ts).
The channel is the metric plus its non-satellite tags (see :mod:`ingestion.series_names`).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ingestion.errors import (
    KairosDBQueryError,
    KairosDBResponseError,
    KairosDBUnavailableError,
)
from ingestion.series_names import channel_name
from ingestion.sources import KairosDBSourceConfig, SeriesConfig
from ingestion.worker import Batch

logger = logging.getLogger(__name__)

QUERY_PATH = "/api/v1/datapoints/query"
METRICNAMES_PATH = "/api/v1/metricnames"
GLOB_CHARS = "*?["
MAX_LOGGED_REJECTS = 3
RETRY_STATUSES = frozenset({429})


class _RetryableStatus(Exception):
    """A 5xx (or 429) answer, retried like a lost connection."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"{response.request.url} answered {response.status_code}")


def _epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _server_messages(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return [response.text[:500]] if response.text else []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [str(item)[:500] for item in body["errors"]]
    return [json.dumps(body)[:500]]


class KairosDBClient:
    """A small KairosDB REST client with timeouts and retries on 5xx and lost connections."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s),
            headers=dict(headers or {}),
            transport=transport,
        )
        self._retrying = Retrying(
            retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
            wait=wait_exponential_jitter(initial=backoff_s, max=backoff_max_s, jitter=backoff_s),
            stop=stop_after_attempt(retries + 1),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a datapoints query; the body is sent as JSON, never built as a string."""
        answer = self._request("POST", QUERY_PATH, json=body)
        if not isinstance(answer, dict) or not isinstance(answer.get("queries"), list):
            raise KairosDBResponseError(f"{self.url}{QUERY_PATH}: answer has no 'queries' list")
        return answer

    def metric_names(self, prefix: str | None = None) -> list[str]:
        """Metric names known to the server, optionally those starting with `prefix`."""
        params = {"prefix": prefix} if prefix else None
        answer = self._request("GET", METRICNAMES_PATH, params=params)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise KairosDBResponseError(
                f"{self.url}{METRICNAMES_PATH}: answer has no 'results' list"
            )
        return [str(name) for name in results]

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._retrying(self._send, method, path, **kwargs)
        except httpx.TransportError as error:
            raise KairosDBUnavailableError(
                f"{self.url}{path}: {type(error).__name__}: {error or 'no answer'}"
            ) from error
        except _RetryableStatus as error:
            messages = _server_messages(error.response)
            raise KairosDBUnavailableError(
                f"{self.url}{path} answered {error.response.status_code}: "
                f"{'; '.join(messages) or 'no message'}"
            ) from error
        if response.status_code >= 400:
            raise KairosDBQueryError(
                response.status_code, _server_messages(response), f"{self.url}{path}"
            )
        try:
            # json.loads accepts the NaN and Infinity literals some servers emit
            return json.loads(response.text)
        except ValueError:
            raise KairosDBResponseError(f"{self.url}{path}: answer is not JSON") from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
            raise _RetryableStatus(response)
        return response

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "KairosDB %s: attempt %d failed (%s), retrying in %.1f s",
            self.url,
            state.attempt_number,
            error,
            state.next_action.sleep if state.next_action else 0.0,
        )


def parse_values(raw: Any, where: str) -> tuple[list[tuple[int, float]], list[str]]:
    """Finite (ms, value) pairs of a result's `values`, and a reason for each bad one."""
    good: list[tuple[int, float]] = []
    bad: list[str] = []
    if not isinstance(raw, list):
        return good, [f"{where}: expected a list of [ms, value]"] if raw is not None else []
    for position, item in enumerate(raw):
        if not isinstance(item, list | tuple) or len(item) != 2:
            bad.append(f"{where}[{position}]: expected [ms, value]")
            continue
        ts, value = item
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            bad.append(f"{where}[{position}][0]: {ts!r} is not epoch milliseconds")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            bad.append(f"{where}[{position}][1]: {value!r} is not a number")
            continue
        try:
            number = float(value)
        except ValueError:
            bad.append(f"{where}[{position}][1]: {str(value)[:40]!r} is not a number")
            continue
        if not math.isfinite(number):
            bad.append(f"{where}[{position}][1]: {value!r} is not finite")
            continue
        good.append((int(ts), number))
    return good, bad


class KairosDBSource:
    """Polls configured KairosDB series in time chunks, each from its own checkpoint."""

    def __init__(self, config: KairosDBSourceConfig, client: KairosDBClient | None = None) -> None:
        self.config = config
        self.name = config.name
        self.interval_s = config.interval_s
        self.client = client or KairosDBClient(
            config.url,
            timeout_s=config.timeout_s,
            retries=config.retries,
            backoff_s=config.backoff_s,
            backoff_max_s=config.backoff_max_s,
            headers=config.headers,
        )
        self._scanned: dict[str, int] = {}

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def series_key(self, series: SeriesConfig) -> str:
        """The checkpoint key of a series: `satellite/channel`, as the pipeline writes it."""
        channel = channel_name(series.metric, series.tag_dict, self.config.satellite_tag)
        return key_of(self.config.satellite_of(series), channel)

    def poll(self, since: datetime | None, now: datetime) -> Iterator[Batch]:
        """Every series from `since` (the same for all) up to `now`."""
        series = self.series()
        checkpoints = {self.series_key(s): since for s in series if since is not None}
        return self.poll_from(checkpoints, now)

    def poll_from(self, checkpoints: Mapping[str, datetime], now: datetime) -> Iterator[Batch]:
        """Batches of each series from its checkpoint minus the overlap up to `now`, by chunk."""
        end_ms = _epoch_ms(now)
        chunk_ms = max(1, int(self.config.chunk_hours * 3_600_000))
        for series in self.series():
            key = self.series_key(series)
            start_ms = self._start_ms(key, checkpoints.get(key), now)
            while start_ms <= end_ms:
                stop_ms = min(start_ms + chunk_ms - 1, end_ms)
                yield self._fetch(series, start_ms, stop_ms)
                self._scanned[key] = max(self._scanned.get(key, stop_ms), stop_ms)
                start_ms = stop_ms + 1

    def read_range(self, start: datetime, end: datetime) -> Iterator[Batch]:
        """Batches of every series in [start, end], by chunk; checkpoints are not consulted."""
        end_ms = _epoch_ms(end)
        chunk_ms = max(1, int(self.config.chunk_hours * 3_600_000))
        for series in self.series():
            start_ms = _epoch_ms(start)
            while start_ms <= end_ms:
                stop_ms = min(start_ms + chunk_ms - 1, end_ms)
                yield self._fetch(series, start_ms, stop_ms)
                start_ms = stop_ms + 1

    def series(self) -> list[SeriesConfig]:
        """The configured series, with metric globs (`SCH.*`) expanded through discovery."""
        expanded: list[SeriesConfig] = []
        known: list[str] | None = None
        for item in self.config.series:
            if not any(c in item.metric for c in GLOB_CHARS):
                expanded.append(item)
                continue
            if known is None:
                known = self.client.metric_names()
            matches = sorted(n for n in known if fnmatch.fnmatchcase(n, item.metric))
            expanded += [SeriesConfig(name, item.tags) for name in matches]
        return list(dict.fromkeys(expanded))

    def _start_ms(self, key: str, checkpoint: datetime | None, now: datetime) -> int:
        marks = [self._scanned.get(key, -1)]
        if checkpoint is not None:
            marks.append(_epoch_ms(checkpoint))
        mark = max(marks)
        if mark >= 0:
            return mark + 1 - int(self.config.overlap_s * 1000)
        first = self.config.start or now - timedelta(hours=self.config.chunk_hours)
        return _epoch_ms(first)

    def _fetch(self, series: SeriesConfig, start_ms: int, end_ms: int) -> Batch:
        body = {
            "start_absolute": start_ms,
            "end_absolute": end_ms,
            "metrics": [
                {"name": series.metric, "tags": {k: [v] for k, v in series.tags}},
            ],
        }
        answer = self.client.query(body)
        satellite = self.config.satellite_of(series)
        channel = channel_name(series.metric, series.tag_dict, self.config.satellite_tag)

        rows: list[tuple[int, float]] = []
        rejected: list[str] = []
        for q, query in enumerate(answer["queries"]):
            results = query.get("results") if isinstance(query, dict) else None
            for r, result in enumerate(results if isinstance(results, list) else []):
                values = result.get("values") if isinstance(result, dict) else None
                good, bad = parse_values(values, f"queries[{q}].results[{r}].values")
                rows += good
                rejected += bad
        if rejected:
            logger.warning(
                "%s %s: %d points rejected, e.g. %s",
                self.name,
                series.metric,
                len(rejected),
                "; ".join(rejected[:MAX_LOGGED_REJECTS]),
            )

        frame = pd.DataFrame(rows, columns=["ms", "value"])
        points = pd.DataFrame(
            {
                "ts": pd.to_datetime(frame["ms"].astype("int64"), unit="ms", utc=True),
                "channel": channel,
                "value": frame["value"].astype(float),
            }
        )
        logger.debug(
            "%s %s [%s, %s]: %d points",
            self.name,
            key_of(satellite, channel),
            datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
            datetime.fromtimestamp(end_ms / 1000, UTC).isoformat(),
            len(points),
        )
        return Batch(satellite, points, rejected=len(rejected))


def key_of(satellite: str, channel: str) -> str:
    """The checkpoint key of a channel of a satellite."""
    return f"{satellite}/{channel}"


def kairosdb_source(config: KairosDBSourceConfig) -> KairosDBSource:
    """A KairosDB source built from its config."""
    return KairosDBSource(config)
