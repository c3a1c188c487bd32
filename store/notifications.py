"""Reads and writes of subscriptions, maintenance windows, silences and the outbox."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from store.errors import NotFoundError
from store.models import Satellite
from store.notifications_models import (
    ChannelSilence,
    MaintenanceWindow,
    OutboxMessage,
    Subscription,
)

logger = logging.getLogger(__name__)

MessageState = Literal["pending", "delivered", "dead"]


def add_subscription(session: Session, subscription: Subscription) -> Subscription:
    """Store a new subscription (already validated) and return it with its id."""
    session.add(subscription)
    session.flush()
    logger.info(
        "subscription %s added: %s for tenant %s, satellite %s, from %s",
        subscription.id,
        subscription.kind,
        subscription.tenant,
        subscription.satellite_id if subscription.satellite_id is not None else "all",
        subscription.min_severity,
    )
    return subscription


def list_subscriptions(session: Session, tenant: str | None = None) -> list[Subscription]:
    """Subscriptions, oldest first, of one tenant or of all."""
    query = select(Subscription).order_by(col(Subscription.id))
    if tenant is not None:
        query = query.where(col(Subscription.tenant) == tenant)
    return list(session.scalars(query).all())


def delete_subscription(session: Session, subscription_id: int, now: datetime) -> None:
    """Remove a subscription; its undelivered messages are dead-lettered, none is lost."""
    found = session.get(Subscription, subscription_id)
    if found is None:
        raise NotFoundError(f"subscription {subscription_id} does not exist")
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.subscription_id) == subscription_id,
            col(OutboxMessage.delivered_at).is_(None),
            col(OutboxMessage.dead_at).is_(None),
        )
        .values(dead_at=now, last_error="subscription deleted")
    )
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.subscription_id) == subscription_id)
        .values(subscription_id=None)
    )
    session.delete(found)
    session.flush()
    logger.info("subscription %d deleted", subscription_id)


def matching_subscriptions(session: Session, satellite: Satellite) -> list[Subscription]:
    """Subscriptions of the satellite's tenant to this satellite or to all of them."""
    return list(
        session.scalars(
            select(Subscription)
            .where(
                col(Subscription.tenant) == satellite.tenant,
                or_(
                    col(Subscription.satellite_id).is_(None),
                    col(Subscription.satellite_id) == satellite.id,
                ),
            )
            .order_by(col(Subscription.id))
        ).all()
    )


def report_subscriptions(session: Session) -> list[Subscription]:
    """Subscriptions that asked for scheduled reports, oldest first."""
    return list(
        session.scalars(
            select(Subscription)
            .where(col(Subscription.report_period).is_not(None))
            .order_by(col(Subscription.id))
        ).all()
    )


def subscribed_satellites(session: Session, subscription: Subscription) -> list[Satellite]:
    """The satellites a subscription covers: its own, or every satellite of its tenant."""
    query = select(Satellite).where(col(Satellite.tenant) == subscription.tenant)
    if subscription.satellite_id is not None:
        query = query.where(col(Satellite.id) == subscription.satellite_id)
    return list(session.scalars(query.order_by(col(Satellite.name))).all())


def add_maintenance(session: Session, window: MaintenanceWindow) -> MaintenanceWindow:
    """Store a maintenance window of a satellite."""
    session.add(window)
    session.flush()
    logger.info(
        "maintenance window %s on satellite %d from %s to %s",
        window.id,
        window.satellite_id,
        window.start.isoformat(),
        window.end.isoformat(),
    )
    return window


def list_maintenance(session: Session, satellite_id: int | None = None) -> list[MaintenanceWindow]:
    """Maintenance windows, by start, of one satellite or of all."""
    query = select(MaintenanceWindow).order_by(col(MaintenanceWindow.start))
    if satellite_id is not None:
        query = query.where(col(MaintenanceWindow.satellite_id) == satellite_id)
    return list(session.scalars(query).all())


def in_maintenance(session: Session, satellite_id: int, ts: datetime) -> bool:
    """Whether `ts` (data time) falls inside a maintenance window of the satellite."""
    found = session.scalars(
        select(MaintenanceWindow.id).where(
            col(MaintenanceWindow.satellite_id) == satellite_id,
            col(MaintenanceWindow.start) <= ts,
            col(MaintenanceWindow.end) >= ts,
        )
    ).first()
    return found is not None


def silence_channel(session: Session, channel_id: int, until: datetime) -> ChannelSilence:
    """Silence messages about a channel until `until` (wall-clock time)."""
    silence = ChannelSilence(channel_id=channel_id, until=until)
    session.add(silence)
    session.flush()
    logger.info("channel %d silenced until %s", channel_id, until.isoformat())
    return silence


def silenced_channels(session: Session, channel_ids: Iterable[int], now: datetime) -> set[int]:
    """Which of `channel_ids` are silenced at `now`."""
    ids = list(channel_ids)
    if not ids:
        return set()
    rows = session.scalars(
        select(ChannelSilence.channel_id).where(
            col(ChannelSilence.channel_id).in_(ids), col(ChannelSilence.until) > now
        )
    ).all()
    return set(rows)


def enqueue(session: Session, message: OutboxMessage) -> bool:
    """Add a message unless one with its idempotency key exists; True when added."""
    exists = session.scalars(
        select(OutboxMessage.id).where(
            col(OutboxMessage.idempotency_key) == message.idempotency_key
        )
    ).first()
    if exists is not None:
        return False
    session.add(message)
    session.flush()
    return True


def has_message(session: Session, idempotency_key: str) -> bool:
    """Whether a message with this idempotency key was ever written."""
    found = session.scalars(
        select(OutboxMessage.id).where(col(OutboxMessage.idempotency_key) == idempotency_key)
    ).first()
    return found is not None


def pending_messages(session: Session, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Undelivered, not dead messages whose next attempt is due, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                col(OutboxMessage.delivered_at).is_(None),
                col(OutboxMessage.dead_at).is_(None),
                col(OutboxMessage.next_attempt_at) <= now,
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
    )


def list_messages(
    session: Session,
    *,
    state: MessageState | None = None,
    incident_id: int | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[OutboxMessage]:
    """Messages of the outbox, newest first (oldest first when `after_id` is given)."""
    query = select(OutboxMessage)
    if state == "pending":
        query = query.where(
            col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.dead_at).is_(None)
        )
    elif state == "delivered":
        query = query.where(col(OutboxMessage.delivered_at).is_not(None))
    elif state == "dead":
        query = query.where(col(OutboxMessage.dead_at).is_not(None))
    if incident_id is not None:
        query = query.where(col(OutboxMessage.incident_id) == incident_id)
    if after_id is not None:
        query = query.where(col(OutboxMessage.id) > after_id).order_by(col(OutboxMessage.id))
    else:
        query = query.order_by(col(OutboxMessage.id).desc())
    return list(session.scalars(query.limit(limit)).all())


def message_counts(session: Session) -> dict[str, int]:
    """How many messages are pending, delivered and dead, and retries made so far."""
    delivered = col(OutboxMessage.delivered_at).is_not(None)
    dead = col(OutboxMessage.dead_at).is_not(None)
    total = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    n_delivered = session.scalar(select(func.count()).where(delivered)) or 0
    n_dead = session.scalar(select(func.count()).where(dead)) or 0
    attempts = session.scalar(select(func.coalesce(func.sum(OutboxMessage.attempts), 0))) or 0
    return {
        "pending": int(total - n_delivered - n_dead),
        "delivered": int(n_delivered),
        "dead": int(n_dead),
        "attempts": int(attempts),
    }


def last_message_id(session: Session) -> int:
    """The highest outbox id so far (0 when empty)."""
    return int(session.scalar(select(func.max(OutboxMessage.id))) or 0)


def find_satellite(session: Session, tenant: str, name: str) -> Satellite:
    """The satellite `name` of `tenant`, or `NotFoundError` naming both."""
    found = session.scalars(
        select(Satellite).where(col(Satellite.tenant) == tenant, col(Satellite.name) == name)
    ).first()
    if found is None:
        raise NotFoundError(f"satellite {name!r} of tenant {tenant!r} does not exist")
    return found
