"""Prometheus metrics of the outbox and incidents, read from the store at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.notifications.stream import CLIENTS
from store import notifications
from store.notifications_models import Incident


class NotificationCollector(Collector):
    """Messages pending, delivered, dead-lettered; delivery attempts; open incidents."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            counts = notifications.message_counts(session)
            open_incidents = session.scalar(
                select(func.count()).where(col(Incident.status) == "open")
            )
        yield GaugeMetricFamily(
            "imon_notifications_pending", "Messages waiting for delivery.", counts["pending"]
        )
        yield CounterMetricFamily(
            "imon_notifications_delivered", "Messages delivered.", counts["delivered"]
        )
        yield CounterMetricFamily(
            "imon_notifications_dead",
            "Messages dead-lettered after their last attempt.",
            counts["dead"],
        )
        yield CounterMetricFamily(
            "imon_notification_attempts", "Delivery attempts made.", counts["attempts"]
        )
        yield GaugeMetricFamily("imon_incidents_open", "Incidents open.", open_incidents or 0)
        yield GaugeMetricFamily("imon_stream_clients", "Open /stream connections.", CLIENTS.count)
