"""`imon tenant export|delete`: a tenant's data, through the service or on the store.

Without `--tenant` the command goes to the running service (IMON_URL) with the CLI's key
and acts on that key's tenant, as `GET /tenants/me/export` and `DELETE /tenants/me` do.
With `--tenant NAME` it opens the store itself (the operator's way, service stopped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from app.auth import client_headers
from app.cli_common import cli_settings, err_console, open_services
from app.settings import Settings

tenant_cli = typer.Typer(help="Export or delete all the data of one tenant.")
console = Console()

#: Seconds an export or deletion through the service may take.
HTTP_TIMEOUT_S = 600.0


def _default_out(fmt: str) -> Path:
    return Path(f"imon-export.{'zip' if fmt == 'parquet' else 'json'}")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _export_over_http(settings: Settings, fmt: str, out: Path) -> None:
    url = f"{settings.url}/tenants/me/export"
    try:
        with httpx.stream(
            "GET",
            url,
            params={"format": fmt},
            headers=client_headers(settings),
            timeout=HTTP_TIMEOUT_S,
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise _fail(f"{response.status_code} from {url}: {response.text[:300]}")
            with out.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
    except httpx.ConnectError:
        raise _fail(f"no service at {settings.url}; start it, or give --tenant") from None


def _export_locally(settings: Settings, tenant: str, fmt: str, out: Path) -> None:
    from app.tenant_ops import export_json, export_parquet

    services = open_services(settings)
    try:
        if fmt == "parquet":
            export_parquet(services.engine, tenant, out)
        else:
            with out.open("wb") as handle:
                for chunk in export_json(services.engine, tenant):
                    handle.write(chunk)
    finally:
        services.close()


@tenant_cli.command("export")
def export(
    fmt: Annotated[
        str, typer.Option("--format", help="json, or parquet (a zip of Parquet files).")
    ] = "json",
    out: Annotated[Path | None, typer.Option(help="File to write.")] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Export this tenant straight from the store.")
    ] = None,
) -> None:
    """Write every row of a tenant to a file (key hashes and webhook secrets left out)."""
    if fmt not in ("json", "parquet"):
        raise _fail(f"--format {fmt!r}: choose json or parquet")
    settings = cli_settings()
    target = out or _default_out(fmt)
    if tenant is None:
        _export_over_http(settings, fmt, target)
    else:
        _export_locally(settings, tenant, fmt, target)
    console.print(f"exported to {target} ({target.stat().st_size} bytes)")


@tenant_cli.command("delete")
def delete(
    confirm: Annotated[str, typer.Option(help="The tenant's name, to confirm.")],
    tenant: Annotated[
        str | None, typer.Option(help="Delete this tenant straight on the store.")
    ] = None,
) -> None:
    """Delete every row, index entry and report file of a tenant; other tenants keep theirs."""
    settings = cli_settings()
    if tenant is None:
        url = f"{settings.url}/tenants/me"
        try:
            response = httpx.delete(
                url,
                params={"confirm": confirm},
                headers=client_headers(settings),
                timeout=HTTP_TIMEOUT_S,
            )
        except httpx.ConnectError:
            raise _fail(f"no service at {settings.url}; start it, or give --tenant") from None
        if response.status_code >= 400:
            raise _fail(f"{response.status_code} from {url}: {response.text[:300]}")
        rows = sum(response.json()["rows"].values())
        console.print(f"tenant {response.json()['tenant']} deleted: {rows} rows")
        return
    if confirm != tenant:
        raise _fail(f"--confirm {confirm!r} does not match --tenant {tenant!r}")
    from app.tenant_ops import delete_tenant

    services = open_services(settings)
    try:
        done = delete_tenant(
            services.engine,
            tenant,
            home=settings.home.resolve(),
            index=services.index,
            knowledge=services.knowledge,
        )
    finally:
        services.close()
    console.print(
        f"tenant {tenant} deleted: {sum(done.rows.values())} rows, {done.index_entries} "
        f"index entries, {done.knowledge_passages} knowledge passages, "
        f"{len(done.files)} files"
    )
