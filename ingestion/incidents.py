"""Incidents: anomalies of one satellite that overlap in time, across its channels.

An incident opens with its first anomaly, grows while anomalies keep coming (a longer
end, more channels, a higher severity) and closes after `quiet` without any anomaly.
Quiet is measured in the data time of the satellite (the newest point ingested), so a
replay closes incidents as the live run would; `close_idle` closes them by the wall
clock too, for satellites whose data stopped arriving.

Every change is written in one transaction with what `on_transitions` adds to it (the
outbox messages), so a message is written exactly when its incident change is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from store.models import Anomaly, Channel, Satellite
from store.notifications_models import Incident, IncidentAnomaly
from store.queries import SEVERITY_RANK
from store.types import utc_now

logger = logging.getLogger(__name__)

#: Default quiet time (seconds of data time) after which an incident closes.
DEFAULT_QUIET_S = 900.0
#: How far back `close_idle` looks for anomalies that were stored but never grouped.
ORPHAN_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    """A change of an incident that customers hear about.

    `kind` is opened, escalated or closed; `at` is the data time it happened.
    """

    incident_id: int
    kind: str
    severity: str
    at: datetime


OnTransitions = Callable[[Session, list[Transition]], Any]


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 0)


class IncidentTracker:
    """Groups stored anomalies into incidents and reports their transitions.

    Thread-safe: calls are serialised by a lock.
    """

    def __init__(
        self,
        engine: Engine,
        quiet: timedelta = timedelta(seconds=DEFAULT_QUIET_S),
        on_transitions: OnTransitions | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if quiet <= timedelta(0):
            raise ValueError(f"quiet must be positive; got {quiet}")
        self.engine = engine
        self.quiet = quiet
        self.on_transitions = on_transitions
        self.clock = clock
        self._lock = threading.Lock()
        self._last_data_wall: dict[int, datetime] = {}

    def record(self, anomaly_ids: Sequence[int]) -> list[Transition]:
        """Put stored anomalies into incidents; returns the transitions, committed."""
        if not anomaly_ids:
            return []
        with self._lock, Session(self.engine) as session:
            transitions = self._record(session, anomaly_ids)
            return self._finish(session, transitions)

    def advance(self, tenant: str, satellite: str, data_now: datetime) -> list[Transition]:
        """The satellite's data reached `data_now`: close its incidents quiet since."""
        with self._lock, Session(self.engine) as session:
            found = session.scalars(
                select(Satellite).where(
                    col(Satellite.tenant) == tenant, col(Satellite.name) == satellite
                )
            ).first()
            if found is None or found.id is None:
                return []
            self._last_data_wall[found.id] = self.clock()
            transitions = [
                self._close(session, incident, data_now)
                for incident in self._open_incidents(session, found.id)
                if data_now - incident.end >= self.quiet
            ]
            return self._finish(session, transitions)

    def close_idle(self, now: datetime | None = None) -> list[Transition]:
        """Close open incidents whose satellite sent no data for `quiet` (wall clock).

        Also groups anomalies stored recently but never grouped (a crash between the
        two transactions).
        """
        now = now or self.clock()
        with self._lock, Session(self.engine) as session:
            orphans = self._orphans(session, now - ORPHAN_LOOKBACK)
            transitions = self._record(session, orphans) if orphans else []
            for incident in self._open_incidents(session, None):
                last = max(
                    incident.updated_at,
                    self._last_data_wall.get(incident.satellite_id, incident.updated_at),
                )
                if now - last >= self.quiet:
                    transitions.append(self._close(session, incident, incident.end))
            return self._finish(session, transitions)

    def _finish(self, session: Session, transitions: list[Transition]) -> list[Transition]:
        if transitions and self.on_transitions is not None:
            self.on_transitions(session, transitions)
        session.commit()
        for item in transitions:
            logger.info(
                "incident %d %s (%s) at %s", item.incident_id, item.kind, item.severity, item.at
            )
        return transitions

    def _record(self, session: Session, anomaly_ids: Iterable[int]) -> list[Transition]:
        rows: list[Any] = list(
            session.execute(
                select(Anomaly, Channel)
                .join(Channel, col(Channel.id) == col(Anomaly.channel_id))
                .where(col(Anomaly.id).in_(list(anomaly_ids)))
                .order_by(col(Anomaly.start), col(Anomaly.id))
            ).all()
        )
        opened: dict[int, Transition] = {}
        escalated: dict[int, Transition] = {}
        for anomaly, channel in rows:
            incident, is_new, raised = self._assign(session, anomaly, channel)
            assert incident.id is not None
            if is_new:
                opened[incident.id] = Transition(
                    incident.id, "opened", incident.severity, incident.start
                )
            elif raised and incident.status == "open":
                escalated[incident.id] = Transition(
                    incident.id, "escalated", incident.severity, anomaly.start
                )

        # what opened in this call is told once, with the severity it reached
        transitions = []
        for incident_id, item in opened.items():
            current = session.get(Incident, incident_id)
            assert current is not None
            transitions.append(Transition(incident_id, "opened", current.severity, item.at))
        transitions += [t for i, t in escalated.items() if i not in opened]
        return transitions

    def _assign(
        self, session: Session, anomaly: Anomaly, channel: Channel
    ) -> tuple[Incident, bool, bool]:
        """The incident of `anomaly`: (incident, created, severity raised)."""
        link = session.scalars(
            select(IncidentAnomaly).where(col(IncidentAnomaly.anomaly_id) == anomaly.id)
        ).first()
        if link is not None:
            incident = session.get(Incident, link.incident_id)
            assert incident is not None
            return incident, False, self._grow(session, incident, anomaly, channel)

        # an anomaly within `quiet` of an open incident joins it; closing is left to
        # `advance`, after every channel of a batch is stored, so that the order in which
        # channels are processed does not split an incident
        joined: Incident | None = None
        for incident in self._open_incidents(session, channel.satellite_id):
            if (
                anomaly.start - incident.end <= self.quiet
                and incident.start - anomaly.end <= self.quiet
            ):
                joined = incident
                break
        if joined is None:
            joined = self._closed_overlapping(session, channel.satellite_id, anomaly)
        if joined is not None:
            raised = self._grow(session, joined, anomaly, channel)
            self._link(session, joined, anomaly)
            return joined, False, raised

        assert channel.id is not None
        incident = Incident(
            satellite_id=channel.satellite_id,
            start=anomaly.start,
            end=anomaly.end,
            severity=anomaly.severity,
            channels=[channel.id],
            opened_at=self.clock(),
            updated_at=self.clock(),
        )
        session.add(incident)
        session.flush()
        self._link(session, incident, anomaly)
        return incident, True, False

    def _grow(
        self, session: Session, incident: Incident, anomaly: Anomaly, channel: Channel
    ) -> bool:
        raised = _rank(anomaly.severity) > _rank(incident.severity)
        changed = raised or anomaly.end > incident.end or anomaly.start < incident.start
        if raised:
            incident.severity = anomaly.severity
        incident.start = min(incident.start, anomaly.start)
        incident.end = max(incident.end, anomaly.end)
        if channel.id is not None and channel.id not in incident.channels:
            incident.channels = [*incident.channels, channel.id]
            changed = True
        if changed:
            incident.updated_at = self.clock()
            session.add(incident)
        return raised

    def _link(self, session: Session, incident: Incident, anomaly: Anomaly) -> None:
        assert incident.id is not None and anomaly.id is not None
        session.add(IncidentAnomaly(incident_id=incident.id, anomaly_id=anomaly.id))
        session.flush()

    def _close(self, session: Session, incident: Incident, at: datetime) -> Transition:
        assert incident.id is not None
        incident.status = "closed"
        incident.closed_at = self.clock()
        incident.updated_at = incident.closed_at
        session.add(incident)
        session.flush()
        return Transition(incident.id, "closed", incident.severity, at)

    def _open_incidents(self, session: Session, satellite_id: int | None) -> list[Incident]:
        query = select(Incident).where(col(Incident.status) == "open")
        if satellite_id is not None:
            query = query.where(col(Incident.satellite_id) == satellite_id)
        return list(session.scalars(query.order_by(col(Incident.start))).all())

    def _closed_overlapping(
        self, session: Session, satellite_id: int, anomaly: Anomaly
    ) -> Incident | None:
        """A closed incident the anomaly overlaps (late data): it joins it silently."""
        return session.scalars(
            select(Incident)
            .where(
                col(Incident.satellite_id) == satellite_id,
                col(Incident.status) == "closed",
                col(Incident.start) <= anomaly.end,
                col(Incident.end) >= anomaly.start,
            )
            .order_by(col(Incident.start))
        ).first()

    def _orphans(self, session: Session, since: datetime) -> list[int]:
        linked = select(IncidentAnomaly.anomaly_id)
        return [
            int(i)
            for i in session.scalars(
                select(Anomaly.id).where(
                    col(Anomaly.updated_at) >= since, col(Anomaly.id).not_in(linked)
                )
            ).all()
        ]
