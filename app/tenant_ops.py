"""A tenant's data as a whole: export (JSON or a zip of Parquet files) and deletion.

Used by `GET /tenants/me/export`, `DELETE /tenants/me` and `imon tenant export|delete`.
The SQL side (which rows are the tenant's) lives in `store.tenant_data`; this module adds
the serialisation, the vector index and the files under IMON_HOME.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from app.reports import REPORTS_DIR
from store import tenant_data
from store.types import UTCDateTime, utc_now

logger = logging.getLogger(__name__)

#: Version of the export layout, in the JSON and in the zip's `manifest.json`.
EXPORT_FORMAT = 1
EXPORT_FORMATS = ("json", "parquet")


@dataclass
class Deletion:
    """What deleting a tenant removed."""

    tenant: str
    rows: dict[str, int]
    index_entries: int = 0
    knowledge_passages: int = 0
    files: list[str] = field(default_factory=list)
    #: ids the deleted channels had; live detectors keyed by them must be dropped
    channel_ids: list[int] = field(default_factory=list)


def _header(tenant: str) -> dict[str, Any]:
    return {"tenant": tenant, "format": EXPORT_FORMAT, "exported_at": tenant_data.plain(utc_now())}


def export_json(engine: Engine, tenant: str) -> Iterator[bytes]:
    """The tenant's rows as one JSON document, produced table by table, page by page."""
    head = json.dumps(_header(tenant))[:-1]
    yield f'{head}, "tables": {{'.encode()
    with engine.connect() as connection:
        for number, table in enumerate(tenant_data.EXPORT_ORDER):
            yield f"{', ' if number else ''}{json.dumps(table)}: [".encode()
            first = True
            for page in tenant_data.iter_rows(connection, table, tenant):
                for row in page:
                    text = json.dumps(row, default=tenant_data.plain)
                    yield (text if first else ", " + text).encode()
                    first = False
            yield b"]"
    yield b"}}"
    logger.info("exported tenant %s as JSON", tenant)


def _arrow_type(column: Any) -> pa.DataType:
    kind = column.type
    if isinstance(kind, UTCDateTime | DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    return pa.string()  # text, and JSON columns as their JSON text


def _arrow_schema(table: str) -> tuple[pa.Schema, set[str]]:
    columns = SQLModel.metadata.tables[table].c
    names = tenant_data.exported_columns(table)
    as_json = {n for n in names if isinstance(columns[n].type, JSON)}
    return pa.schema([(n, _arrow_type(columns[n])) for n in names]), as_json


def _write_parquet(connection: Any, table: str, tenant: str, path: Path) -> int:
    schema, as_json = _arrow_schema(table)
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        for page in tenant_data.iter_rows(connection, table, tenant):
            for row in page:
                for name in as_json:
                    row[name] = json.dumps(row[name])
            writer.write_table(pa.Table.from_pylist(page, schema=schema))
            written += len(page)
        if written == 0:
            writer.write_table(schema.empty_table())
    return written


def export_parquet(engine: Engine, tenant: str, target: Path) -> dict[str, int]:
    """Write the tenant's rows to `target`, a zip of one Parquet file per table.

    The zip also holds `manifest.json` (tenant, format, time, rows per table); returns
    the rows per table.
    """
    counts: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="imon-export-") as scratch,
        engine.connect() as connection,
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive,
    ):
        for table in tenant_data.EXPORT_ORDER:
            path = Path(scratch) / f"{table}.parquet"
            counts[table] = _write_parquet(connection, table, tenant, path)
            archive.write(path, f"{table}.parquet")
            path.unlink()
        manifest = _header(tenant) | {"rows": counts}
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    logger.info("exported tenant %s as Parquet (%d rows)", tenant, sum(counts.values()))
    return counts


def _report_files(home: Path, satellites: list[str]) -> list[Path]:
    folder = home / REPORTS_DIR
    if not folder.is_dir() or not satellites:
        return []
    safe = {re.sub(r"[^A-Za-z0-9_.-]", "_", name) for name in satellites}
    pattern = re.compile(r"^(?P<name>.+)-\d{8}T\d{6}Z\.(html|pdf)$")
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match is not None and match.group("name") in safe:
            found.append(path)
    return sorted(found)


def delete_tenant(
    engine: Engine, tenant: str, *, home: Path, index: Any = None, knowledge: Any = None
) -> Deletion:
    """Delete every row, index entry and report file of `tenant`, nothing of another.

    SQL rows go first, in one transaction (the store is the source of truth); then the
    tenant's anomaly and annotation entries and own knowledge passages in Chroma; then
    the reports of its satellites, except those whose file name another tenant's
    satellite shares.
    """
    with engine.begin() as connection:
        satellites = tenant_data.satellite_names(connection, tenant)
        shared = tenant_data.shared_satellite_names(connection, tenant)
        channels = tenant_data.channel_ids(connection, tenant)
        rows = tenant_data.delete_tenant_rows(connection, tenant)
    deletion = Deletion(tenant=tenant, rows=rows, channel_ids=channels)
    if index is not None:
        deletion.index_entries = index.delete_tenant(tenant)
    if knowledge is not None:
        deletion.knowledge_passages = knowledge.delete_tenant(tenant)
    for path in _report_files(home, [s for s in satellites if s not in shared]):
        path.unlink(missing_ok=True)
        deletion.files.append(path.name)
    logger.warning(
        "tenant %s deleted: %d rows, %d index entries, %d knowledge passages, %d files",
        tenant,
        sum(rows.values()),
        deletion.index_entries,
        deletion.knowledge_passages,
        len(deletion.files),
    )
    return deletion
