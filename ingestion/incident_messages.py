"""Messages about incident transitions, written to the outbox for each subscription.

Rules, per transition and subscription:

- one message per (incident, transition, subscription): the idempotency key
  ``incident:<id>:<transition>:sub:<id>`` (escalations also name the severity reached)
  is unique in the outbox;
- nothing below the subscription's minimum severity; an incident that reaches it by
  escalation is announced then as opened;
- nothing while the incident's start (data time) is inside a maintenance window of
  the satellite, nor when every channel of the incident is silenced (wall clock);
- no escalation after the incident was acknowledged; a closing message only to
  subscriptions that were told it opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from ingestion.incidents import Transition
from store import incidents as incident_reads
from store import notifications
from store.models import Anomaly, Satellite
from store.notifications_models import Incident, IncidentAnomaly, OutboxMessage, Subscription
from store.queries import SEVERITY_RANK
from store.types import utc_now
from store.vector import iso_z

logger = logging.getLogger(__name__)

#: Minutes a "silence this channel" link silences it for.
SILENCE_LINK_MINUTES = 60

#: The first possible explanation of an anomaly (by id, in a tenant), or None.
Explain = Callable[[int, str], str | None]


@dataclass(frozen=True)
class LinkConfig:
    """Where links in messages point, and how their tokens are signed.

    `sign` returns a token for a purpose string such as ``ack:12`` or ``silence:3``.
    """

    base_url: str
    sign: Callable[[str], str]


def idempotency_key(incident_id: int, transition: str, subscription_id: int, severity: str) -> str:
    """The key that makes a message unique in the outbox and at the receiver."""
    step = f"escalated:{severity}" if transition == "escalated" else transition
    return f"incident:{incident_id}:{step}:sub:{subscription_id}"


class OutboxNotifier:
    """Called by the incident tracker, inside its transaction: writes outbox messages."""

    def __init__(
        self,
        links: LinkConfig,
        explain: Explain | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.links = links
        self.explain = explain
        self.clock = clock

    def __call__(self, session: Session, transitions: list[Transition]) -> None:
        for transition in transitions:
            self._notify(session, transition)

    def _notify(self, session: Session, transition: Transition) -> None:
        incident = session.get(Incident, transition.incident_id)
        assert incident is not None and incident.id is not None
        satellite = session.get(Satellite, incident.satellite_id)
        assert satellite is not None
        subscriptions = notifications.matching_subscriptions(session, satellite)
        if not subscriptions:
            return
        quiet_reason = self._suppressed(session, incident)
        payloads: dict[str, dict[str, Any]] = {}

        for subscription in subscriptions:
            assert subscription.id is not None
            kind = self._kind_for(session, incident, transition, subscription, quiet_reason)
            if kind is None:
                continue
            key = idempotency_key(incident.id, kind, subscription.id, incident.severity)
            if notifications.has_message(session, key):
                continue
            if kind not in payloads:
                payloads[kind] = self._payload(session, incident, satellite, kind)
            message = OutboxMessage(
                incident_id=incident.id,
                subscription_id=subscription.id,
                channel=subscription.kind,
                transition=kind,
                payload={**payloads[kind], "idempotency_key": key},
                idempotency_key=key,
                created_at=self.clock(),
                next_attempt_at=self.clock(),
            )
            if notifications.enqueue(session, message):
                logger.info(
                    "message %s queued for subscription %d (%s)", key, subscription.id, kind
                )
        if quiet_reason and transition.kind == "opened":
            logger.info("incident %d opened without message: %s", incident.id, quiet_reason)

    def _kind_for(
        self,
        session: Session,
        incident: Incident,
        transition: Transition,
        subscription: Subscription,
        quiet_reason: str | None,
    ) -> str | None:
        """What to tell this subscription about the transition, or None for nothing."""
        assert incident.id is not None and subscription.id is not None
        told = notifications.has_message(
            session, idempotency_key(incident.id, "opened", subscription.id, incident.severity)
        )
        if transition.kind == "closed":
            return "closed" if told else None
        if SEVERITY_RANK.get(incident.severity, 0) < SEVERITY_RANK.get(
            subscription.min_severity, 0
        ):
            return None
        if quiet_reason is not None:
            return None
        if not told:
            return "opened"
        if transition.kind == "escalated" and incident.acknowledged_at is None:
            return "escalated"
        return None

    def _suppressed(self, session: Session, incident: Incident) -> str | None:
        """Why no opening or escalation message is sent now, or None."""
        if notifications.in_maintenance(session, incident.satellite_id, incident.start):
            return "the satellite is in a maintenance window"
        silenced = notifications.silenced_channels(session, incident.channels, self.clock())
        if incident.channels and silenced >= set(incident.channels):
            return "every channel of the incident is silenced"
        return None

    def _payload(
        self, session: Session, incident: Incident, satellite: Satellite, kind: str
    ) -> dict[str, Any]:
        view = incident_reads.incident_view(session, incident)
        names = ", ".join(c["name"] for c in view.channels)
        summary = {
            "opened": f"{satellite.name}: incident #{view.id} opened, {view.severity} severity "
            f"on {len(view.channels)} channel(s) ({names}), since {iso_z(view.start)}",
            "escalated": f"{satellite.name}: incident #{view.id} escalated to {view.severity} "
            f"({names})",
            "closed": f"{satellite.name}: incident #{view.id} closed after "
            f"{iso_z(view.start)} to {iso_z(view.end)} ({view.severity})",
        }[kind]
        explanation = self._explanation(session, incident, satellite) if kind == "opened" else None
        base = self.links.base_url.rstrip("/")
        return {
            "event": f"incident.{kind}",
            "summary": summary,
            "incident": {
                "id": view.id,
                "satellite": view.satellite,
                "tenant": view.tenant,
                "status": view.status,
                "severity": view.severity,
                "start": iso_z(view.start),
                "end": iso_z(view.end),
                "channels": view.channels,
                "anomaly_count": view.anomaly_count,
            },
            "explanation": explanation,
            "links": {
                "dashboard": f"{base}/dashboard/incidents/{view.id}",
                "acknowledge": f"{base}/incidents/{view.id}/ack"
                f"?token={self.links.sign(f'ack:{view.id}')}",
                "silence": {c["name"]: self._silence_link(base, c["id"]) for c in view.channels},
            },
        }

    def _silence_link(self, base: str, channel_id: int) -> str:
        token = self.links.sign(f"silence:{channel_id}")
        return f"{base}/channels/{channel_id}/silence?minutes={SILENCE_LINK_MINUTES}&token={token}"

    def _explanation(
        self, session: Session, incident: Incident, satellite: Satellite
    ) -> str | None:
        """The first possible explanation of the incident's most severe, earliest anomaly."""
        if self.explain is None:
            return None
        anomalies = session.scalars(
            select(Anomaly)
            .join(IncidentAnomaly, col(IncidentAnomaly.anomaly_id) == col(Anomaly.id))
            .where(col(IncidentAnomaly.incident_id) == incident.id)
        ).all()
        if not anomalies:
            return None
        first = min(anomalies, key=lambda a: (-SEVERITY_RANK.get(a.severity, 0), a.start))
        assert first.id is not None
        return self.explain(first.id, satellite.tenant)
