"""Prometheus metrics of the worker's sources and of the background detection stage,
read from their status at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingestion.detection_marks import detection_lag
from ingestion.detection_stage import DetectionStage
from ingestion.worker import Worker

PREFIX = "imon"


class SourceCollector(Collector):
    """Per-source lag, points, rejects, anomalies and errors, plus totals over sources."""

    def __init__(
        self, worker: Worker | None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.worker = worker
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        statuses = list(self.worker.status.values()) if self.worker is not None else []
        now = self.clock()
        counters = {
            "points_ingested": ("points stored (new) from the source", "points"),
            "points_rejected": ("points received but not stored (NaN, non-numeric)", "rejected"),
            "anomalies": ("new anomalies found on the source's points", "anomalies"),
            "errors": ("failed polls", "errors"),
            "polls": ("polls started", "polls"),
        }
        for name, (text, attribute) in counters.items():
            family = CounterMetricFamily(
                f"{PREFIX}_source_{name}", f"Per source: {text}.", labels=["source"]
            )
            for status in statuses:
                family.add_metric([status.name], float(getattr(status, attribute)))
            yield family
            total = sum(float(getattr(status, attribute)) for status in statuses)
            yield CounterMetricFamily(f"{PREFIX}_{name}", f"All sources: {text}.", value=total)

        lag = GaugeMetricFamily(
            f"{PREFIX}_source_lag_seconds",
            "Per source: now minus the newest point delivered.",
            labels=["source"],
        )
        healthy = GaugeMetricFamily(
            f"{PREFIX}_source_healthy",
            "Per source: 1 when the last poll succeeded.",
            labels=["source"],
        )
        lags = []
        for status in statuses:
            healthy.add_metric([status.name], 0.0 if status.last_error else 1.0)
            seconds = status.lag_s(now)
            if seconds is not None:
                lag.add_metric([status.name], seconds)
                lags.append(seconds)
        yield lag
        yield healthy
        yield GaugeMetricFamily(
            f"{PREFIX}_sources", "Sources the worker polls.", value=len(statuses)
        )
        if lags:
            yield GaugeMetricFamily(
                f"{PREFIX}_max_lag_seconds", "The largest lag over all sources.", value=max(lags)
            )


class DetectionCollector(Collector):
    """The background detection stage: queue, lag per channel and overall, counters."""

    def __init__(self, stage: DetectionStage) -> None:
        self.stage = stage

    def collect(self) -> Iterator[Metric]:
        waiting = self.stage.waiting()
        yield GaugeMetricFamily(
            f"{PREFIX}_detection_queue_channels",
            "Channels queued for (or in) background detection.",
            value=len(waiting),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_detection_queue_wait_seconds",
            "Seconds the longest-queued channel has waited for detection.",
            value=max(waiting.values(), default=0.0),
        )
        lags = detection_lag(self.stage.pipeline.engine)
        lag = GaugeMetricFamily(
            f"{PREFIX}_detection_lag_seconds",
            "Per channel: data time of the newest pushed point minus the newest detected one.",
            labels=["channel_id"],
        )
        for channel_id, seconds in sorted(lags.items()):
            if seconds > 0:
                lag.add_metric([str(channel_id)], seconds)
        yield lag
        yield GaugeMetricFamily(
            f"{PREFIX}_detection_max_lag_seconds",
            "The largest detection lag over all channels (data time).",
            value=max(lags.values(), default=0.0),
        )
        stats = self.stage.stats
        for name, text, value in (
            ("detection_steps", "background detection steps run", stats.steps),
            (
                "detection_anomalies",
                "new anomalies found by background detection",
                stats.anomalies_new,
            ),
            ("detection_errors", "failed background detection steps", stats.errors),
            (
                "detection_queue_overflows",
                "channels the full queue left to a store rescan",
                stats.overflows,
            ),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", f"{text.capitalize()}.", value=value)


def build_metrics_registry(
    worker: Worker | None, detection: DetectionStage | None = None
) -> CollectorRegistry:
    """A registry of its own (not the global one) with the source and detection collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SourceCollector(worker))
    if detection is not None:
        registry.register(DetectionCollector(detection))
    return registry
