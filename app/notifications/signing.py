"""Signatures of webhooks and tokens of the links in messages.

Webhooks carry ``X-IMON-Timestamp`` (Unix seconds) and ``X-IMON-Signature:
sha256=<hex>``, the HMAC-SHA256 with the subscription's secret over
``timestamp + "." + body``. Receivers recompute it, compare in constant time and
reject timestamps more than :data:`REPLAY_WINDOW_S` away from their clock, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path

#: Receivers reject a webhook whose timestamp is further than this from their clock.
REPLAY_WINDOW_S = 300
SECRET_FILE = "notify_secret"


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-IMON-Signature`` value: ``sha256=`` and the hex HMAC of ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime | None = None,
    window_s: float = REPLAY_WINDOW_S,
) -> bool:
    """Whether a webhook's signature matches and its timestamp is within the window.

    `timestamp` and `signature` are the ``X-IMON-Timestamp`` and ``X-IMON-Signature``
    headers, `body` the raw request body, `now` the receiver's clock (UTC).
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = (now or datetime.now(UTC)).timestamp()
    if abs(current - sent) > window_s:
        return False
    return hmac.compare_digest(sign_webhook(secret, timestamp, body).encode(), signature.encode())


def new_secret() -> str:
    """A fresh random secret for a webhook subscription."""
    return secrets.token_urlsafe(32)


class LinkSigner:
    """Signs and checks the tokens of acknowledge and silence links."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("the link signing key is empty: set IMON_NOTIFY_SECRET")
        self._key = key.encode()

    def sign(self, purpose: str) -> str:
        """The token of a purpose such as ``ack:12``."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()[:32]

    def check(self, purpose: str, token: str | None) -> bool:
        """Whether `token` is the token of `purpose`."""
        if token is None:
            return False
        # bytes, not str: compare_digest refuses non-ASCII strings with a TypeError
        return hmac.compare_digest(self.sign(purpose).encode(), token.encode())


def link_key(home: Path, configured: str | None) -> str:
    """The configured key, else one generated once and kept in `home` (mode 600)."""
    if configured:
        return configured
    path = home / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
