"""API keys: creation (the key is returned once), lookup by key, listing, revocation.

A key reads `imon_<prefix>_<secret>`: the prefix (8 hex characters) finds the row, the
whole key is checked against a salted SHA-256 hash in constant time. Keys carry 32 random
bytes, so a fast hash is enough; the salt keeps equal keys from having equal hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from store.errors import NotFoundError
from store.keys_models import KINDS, SCOPES, WIDGET_SCOPES, ApiKey, Tenant
from store.types import utc_now

logger = logging.getLogger(__name__)

KEY_PREFIX = "imon_"


@dataclass(frozen=True)
class NewKey:
    """A key just created: `key` is the only copy of the secret."""

    record: ApiKey
    key: str


def hash_key(key: str, salt: str | None = None) -> str:
    """`sha256$<salt>$<digest>` of `key`; a fresh random salt when none is given."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256((salt + key).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def key_matches(key: str, stored: str) -> bool:
    """Whether `key` hashes to `stored`, compared in constant time."""
    algorithm, _, rest = stored.partition("$")
    salt, _, _digest = rest.partition("$")
    if algorithm != "sha256" or not salt:
        return False
    return hmac.compare_digest(hash_key(key, salt), stored)


def _prefix_of(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return prefix if len(prefix) == 8 and secret else None


def check_scopes(scopes: Sequence[str]) -> list[str]:
    """The scopes, deduplicated in canonical order, or ValueError naming the unknown one."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(
            f"scope: {', '.join(unknown) or 'none given'}; choose from {', '.join(SCOPES)}"
        )
    return [s for s in SCOPES if s in scopes]


def check_origin(origin: str) -> str:
    """`origin` as browsers send it (`scheme://host[:port]`, lower case), or ValueError."""
    text = origin.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = urlsplit(""), None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ValueError(
            f"origin: {origin!r} is not an origin; give scheme://host[:port] with no path, "
            "e.g. https://portal.example"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def _check_kind(kind: str, scopes: list[str], origins: list[str]) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r}; choose from {', '.join(KINDS)}")
    if kind != "widget":
        return
    extra = [s for s in scopes if s not in WIDGET_SCOPES]
    if extra:
        raise ValueError(
            f"scope: {', '.join(extra)} not allowed on a widget key; "
            f"a widget key holds only {', '.join(WIDGET_SCOPES)}"
        )
    if not origins:
        raise ValueError("origin: a widget key needs at least one allowed origin (--origin)")


def ensure_tenant(session: Session, name: str) -> Tenant:
    """The tenant called `name`, created when new."""
    tenant = session.get(Tenant, name)
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
        logger.info("new tenant %s", name)
    return tenant


def create_key(
    session: Session,
    tenant: str,
    scopes: Sequence[str],
    *,
    name: str = "",
    allowed_origins: Sequence[str] = (),
    kind: str = "api",
) -> NewKey:
    """Create a key of `tenant` with `scopes`; the returned secret is not stored anywhere.

    A `widget` key holds only `read` and `ask` and needs at least one allowed origin.
    """
    checked = check_scopes(scopes)
    origins = list(dict.fromkeys(check_origin(o) for o in allowed_origins))
    _check_kind(kind, checked, origins)
    if not tenant or len(tenant) > 100:
        raise ValueError(f"tenant: {tenant!r}; give a name of 1 to 100 characters")
    ensure_tenant(session, tenant)
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hash=hash_key(key),
        scopes=checked,
        kind=kind,
        allowed_origins=origins,
    )
    session.add(record)
    session.flush()
    logger.info("%s key %s (%s) created for tenant %s", kind, record.id, prefix, tenant)
    return NewKey(record=record, key=key)


def find_key(session: Session, key: str) -> ApiKey | None:
    """The active (not revoked) key row matching `key`, or None."""
    prefix = _prefix_of(key)
    if prefix is None:
        return None
    record = session.exec(select(ApiKey).where(col(ApiKey.prefix) == prefix)).first()
    if record is None or record.revoked_at is not None or not key_matches(key, record.hash):
        return None
    return record


def list_keys(session: Session, tenant: str | None = None) -> list[ApiKey]:
    """Keys, oldest first, of one tenant or of all."""
    query = select(ApiKey).order_by(col(ApiKey.id))
    if tenant is not None:
        query = query.where(col(ApiKey.tenant) == tenant)
    return list(session.exec(query).all())


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key from now on (idempotent), or NotFoundError."""
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFoundError(f"API key {key_id} does not exist")
    if record.revoked_at is None:
        record.revoked_at = utc_now()
        session.add(record)
        logger.info("API key %s (%s) of tenant %s revoked", key_id, record.prefix, record.tenant)
    return record


def has_keys(session: Session) -> bool:
    """Whether any key was ever created (revoked ones count)."""
    return session.exec(select(ApiKey.id).limit(1)).first() is not None


def origin_is_listed(session: Session, origin: str) -> bool:
    """Whether some active key lists `origin` among its allowed origins (CORS preflight)."""
    query = select(ApiKey.allowed_origins).where(col(ApiKey.revoked_at).is_(None))
    return any(origin in (origins or []) for origins in session.exec(query))
