"""Everything a tenant owns in the SQL store: listed for export, deleted on request.

`TENANT_TABLES` says, for every table that holds tenant data, how its rows are found
from the tenant's name (directly, or through a satellite, channel, anomaly, incident or
subscription of the tenant). `SERVICE_TABLES` lists the tables that belong to the
service, not to a tenant. A test checks that every table is in one of the two, so a new
table cannot be forgotten by export or delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

import store.channel_models
import store.keys_models
import store.models
import store.notifications_models  # noqa: F401  (every table in the metadata)

logger = logging.getLogger(__name__)

#: Key of the owning tenant inside a conversation's stored state.
CONVERSATION_TENANT_KEY = "_tenant"
#: Tenant of rows written before they carried one (conversations).
LEGACY_TENANT = "default"
#: Tables of the service itself: polling checkpoints of operator-configured sources,
#: the migration version.
SERVICE_TABLES = frozenset({"checkpoint", "alembic_version"})
#: Columns never exported: key hashes and webhook secrets.
SECRET_COLUMNS = {"apikey": frozenset({"hash"}), "subscription": frozenset({"secret"})}
#: Rows read per query while exporting.
PAGE_ROWS = 5000

Filter = Callable[[str], ColumnElement[bool]]


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _ids(name: str, where: ColumnElement[bool]) -> Any:
    return select(_table(name).c.id).where(where)


def _satellites(tenant: str) -> Any:
    return _ids("satellite", _table("satellite").c.tenant == tenant)


def _channels(tenant: str) -> Any:
    return _ids("channel", _table("channel").c.satellite_id.in_(_satellites(tenant)))


def _anomalies(tenant: str) -> Any:
    return _ids("anomaly", _table("anomaly").c.channel_id.in_(_channels(tenant)))


def _incidents(tenant: str) -> Any:
    return _ids("incident", _table("incident").c.satellite_id.in_(_satellites(tenant)))


def _subscriptions(tenant: str) -> Any:
    return _ids("subscription", _table("subscription").c.tenant == tenant)


def _by(table: str, column: str, ids: Callable[[str], Any]) -> Filter:
    return lambda tenant: _table(table).c[column].in_(ids(tenant))


def _named(table: str, column: str) -> Filter:
    return lambda tenant: _table(table).c[column] == tenant


def _outbox(tenant: str) -> ColumnElement[bool]:
    outbox = _table("outboxmessage").c
    return outbox.incident_id.in_(_incidents(tenant)) | outbox.subscription_id.in_(
        _subscriptions(tenant)
    )


def _conversations(tenant: str) -> ColumnElement[bool]:
    owner = _table("conversation").c.state[CONVERSATION_TENANT_KEY].as_string()
    if tenant == LEGACY_TENANT:
        return owner.is_(None) | (owner == tenant)
    return owner == tenant


#: Table name -> rows of a tenant, in an order that deletes children before parents.
TENANT_TABLES: dict[str, Filter] = {
    "outboxmessage": _outbox,
    "incidentanomaly": _by("incidentanomaly", "incident_id", _incidents),
    "annotation": _by("annotation", "anomaly_id", _anomalies),
    "channelsilence": _by("channelsilence", "channel_id", _channels),
    "channelmodel": _by("channelmodel", "channel_id", _channels),
    "channellimit": _by("channellimit", "channel_id", _channels),
    "maintenancewindow": _by("maintenancewindow", "satellite_id", _satellites),
    "event": _by("event", "satellite_id", _satellites),
    "point": _by("point", "channel_id", _channels),
    "incident": _by("incident", "satellite_id", _satellites),
    "anomaly": _by("anomaly", "channel_id", _channels),
    "subscription": _named("subscription", "tenant"),
    "channel": _by("channel", "satellite_id", _satellites),
    "satellite": _named("satellite", "tenant"),
    "conversation": _conversations,
    "apikey": _named("apikey", "tenant"),
    "tenant": _named("tenant", "name"),
}
#: Order of tables in an export: parents first.
EXPORT_ORDER = tuple(reversed(TENANT_TABLES))


def unclassified_tables() -> list[str]:
    """Tables of the metadata that are neither tenant data nor service tables."""
    known = set(TENANT_TABLES) | SERVICE_TABLES
    return sorted(name for name in SQLModel.metadata.tables if name not in known)


def exported_columns(table: str) -> list[str]:
    """Columns of `table` that an export carries (secrets left out)."""
    hidden = SECRET_COLUMNS.get(table, frozenset())
    return [c.name for c in _table(table).columns if c.name not in hidden]


def count_rows(connection: Connection, tenant: str) -> dict[str, int]:
    """How many rows of each tenant table belong to `tenant`."""
    counts = {}
    for name in EXPORT_ORDER:
        query = select(func.count()).select_from(_table(name)).where(TENANT_TABLES[name](tenant))
        counts[name] = int(connection.execute(query).scalar_one())
    return counts


def iter_rows(
    connection: Connection, table: str, tenant: str, page: int = PAGE_ROWS
) -> Iterator[list[dict[str, Any]]]:
    """Pages of `tenant`'s rows of `table` as dicts of exported columns, in key order."""
    if table not in TENANT_TABLES:
        raise ValueError(f"table {table!r} holds no tenant data; choose from {EXPORT_ORDER}")
    columns = [_table(table).c[name] for name in exported_columns(table)]
    order = list(_table(table).primary_key.columns)
    query = select(*columns).where(TENANT_TABLES[table](tenant)).order_by(*order)
    offset = 0
    while True:
        rows = connection.execute(query.limit(page).offset(offset)).mappings().all()
        if not rows:
            return
        yield [dict(row) for row in rows]
        offset += len(rows)


def channel_ids(connection: Connection, tenant: str) -> list[int]:
    """Ids of `tenant`'s channels."""
    found: list[Any] = list(connection.execute(_channels(tenant)).scalars())
    return [int(channel_id) for channel_id in found]


def satellite_names(connection: Connection, tenant: str) -> list[str]:
    """Names of `tenant`'s satellites."""
    satellite = _table("satellite").c
    query = select(satellite.name).where(satellite.tenant == tenant).order_by(satellite.name)
    names: list[Any] = list(connection.execute(query).scalars())
    return [str(name) for name in names]


def shared_satellite_names(connection: Connection, tenant: str) -> set[str]:
    """Names of `tenant`'s satellites that another tenant also uses."""
    satellite = _table("satellite").c
    mine = select(satellite.name).where(satellite.tenant == tenant)
    query = select(satellite.name).where(satellite.tenant != tenant, satellite.name.in_(mine))
    names: list[Any] = list(connection.execute(query).scalars())
    return {str(name) for name in names}


def delete_tenant_rows(connection: Connection, tenant: str) -> dict[str, int]:
    """Delete every row of `tenant` in one transaction of `connection`; counts per table.

    The caller commits (or rolls back); rows of other tenants are never touched, since
    every statement is restricted by the tenant's own ids.
    """
    if not tenant:
        raise ValueError("tenant: empty; name the tenant whose data to delete")
    deleted = {}
    for name, where in TENANT_TABLES.items():
        result = connection.execute(delete(_table(name)).where(where(tenant)))
        deleted[name] = int(result.rowcount or 0)
    logger.info(
        "deleted tenant %s: %s",
        tenant,
        ", ".join(f"{n} {c}" for n, c in deleted.items() if c),
    )
    return deleted


def plain(value: Any) -> Any:
    """A JSON-ready value: datetimes as ISO 8601 with Z."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
