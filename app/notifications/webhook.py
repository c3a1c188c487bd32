"""Webhook delivery: a signed JSON POST per message (or per digest)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

import httpx

from app.notifications.errors import DeliveryError
from app.notifications.signing import sign_webhook
from store.notifications_models import OutboxMessage, Subscription

logger = logging.getLogger(__name__)


def message_body(messages: list[OutboxMessage]) -> dict[str, Any]:
    """One message's payload, or a digest of several."""
    if len(messages) == 1:
        return dict(messages[0].payload)
    return {"event": "digest", "messages": [dict(m.payload) for m in messages]}


def batch_key(messages: list[OutboxMessage]) -> str:
    """The idempotency key of one message, or a stable one for a digest of several."""
    if len(messages) == 1:
        return messages[0].idempotency_key
    joined = ",".join(m.idempotency_key for m in messages)
    return "digest:" + hashlib.sha256(joined.encode()).hexdigest()[:32]


class WebhookSender:
    """POSTs JSON to the subscription's URL with signature and idempotency headers."""

    def __init__(self, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(
        self, subscription: Subscription, messages: list[OutboxMessage], now: datetime
    ) -> None:
        """Deliver; any answer other than 2xx, and any network error, is a `DeliveryError`."""
        body = json.dumps(message_body(messages), separators=(",", ":")).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "intelligent-monitoring",
            "Idempotency-Key": batch_key(messages),
            "X-IMON-Timestamp": timestamp,
            "X-IMON-Signature": sign_webhook(subscription.secret or "", timestamp, body),
        }
        try:
            response = self._client.post(subscription.target, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
        logger.info(
            "webhook of subscription %s delivered %d message(s)", subscription.id, len(messages)
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
