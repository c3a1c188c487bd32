"""Placeholder secrets: recognised, and refused outside development mode.

A secret is a placeholder when it is short (under `MIN_SECRET_CHARS`), uses a handful of
distinct characters, contains an obvious marker ("changeme", "example", "placeholder"),
or is little more than common words ("secret", "password", "admin", "key") and digits.
The reason given never repeats the value.
"""

from __future__ import annotations

import re
from typing import Any


class PlaceholderSecretError(RuntimeError):
    """A secret holds a placeholder outside development mode: start-up stops."""


#: Shortest secret accepted outside development mode.
MIN_SECRET_CHARS = 16
#: Fewest distinct characters of a real secret.
MIN_DISTINCT_CHARS = 6
#: Substrings that mark a value as a placeholder wherever they appear.
MARKERS = ("changeme", "changethis", "placeholder", "example", "replaceme", "xxxx", "dummy")
#: Words a placeholder is made of; what is left after removing them must still be random.
WORDS = (
    "password",
    "passwd",
    "secret",
    "default",
    "sample",
    "admin",
    "super",
    "token",
    "test",
    "demo",
    "key",
    "api",
    "my",
    "your",
    "imon",
    "qwerty",
    "letmein",
)
#: Characters that must remain once the words are removed (digits alone do not count).
MIN_REMAINDER_CHARS = 10


def placeholder_reason(value: str) -> str | None:
    """Why `value` looks like a placeholder secret, or None when it looks random."""
    if len(value) < MIN_SECRET_CHARS:
        return f"shorter than {MIN_SECRET_CHARS} characters"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return f"fewer than {MIN_DISTINCT_CHARS} distinct characters"
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    marker = next((m for m in MARKERS if m in folded), None)
    if marker is not None:
        return f"contains the placeholder word {marker!r}"
    remainder = folded
    for word in WORDS:
        remainder = remainder.replace(word, "")
    if len(remainder) < MIN_REMAINDER_CHARS or remainder.isdigit():
        return "made of common words and digits"
    return None


def placeholder_error(setting: str, reason: str) -> str:
    """The start-up error for a placeholder in `setting`, naming it and the way out."""
    return (
        f"{setting} looks like a placeholder ({reason}); outside development mode set it "
        "to a random value, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
        "or run with IMON_ENV=development"
    )


def placeholder_webhook_secrets(engine: Any) -> list[tuple[int, str]]:
    """(subscription id, reason) of every stored webhook secret that is a placeholder."""
    from sqlmodel import Session, col, select

    from store.notifications_models import Subscription

    with Session(engine) as session:
        rows = session.exec(
            select(Subscription.id, Subscription.secret).where(
                col(Subscription.secret).is_not(None)
            )
        ).all()
    found = []
    for ident, secret in rows:
        reason = placeholder_reason(secret or "")
        if reason is not None and ident is not None:
            found.append((ident, reason))
    return found


def check_webhook_secrets(env: str, engine: Any) -> None:
    """Stop start-up outside development when a stored webhook secret is a placeholder."""
    if env == "development":
        return
    found = placeholder_webhook_secrets(engine)
    if found:
        ident, reason = found[0]
        raise PlaceholderSecretError(
            placeholder_error(f"the webhook secret of subscription {ident}", reason)
            + f"; {len(found)} subscription(s) affected: delete and re-create them "
            "without a secret to get a generated one"
        )
