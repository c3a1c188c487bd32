"""`imon keys create|list|revoke`: API keys, straight on the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from app.runtime import configure_logging
from app.settings import load_settings
from store.db import database_url, make_engine, migrate
from store.errors import NotFoundError
from store.keys import create_key, list_keys, revoke_key
from store.keys_models import SCOPES, WIDGET_SCOPES

keys_cli = typer.Typer(help="API keys of tenants (shown once, stored hashed).")
console = Console()
err_console = Console(stderr=True)


def _session() -> Session:
    settings = load_settings()
    configure_logging(settings.log_level)
    engine = make_engine(database_url(settings.home.resolve(), settings.database_url))
    migrate(engine)
    return Session(engine)


@keys_cli.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    scope: Annotated[
        str, typer.Option(help=f"Comma-separated scopes among {', '.join(SCOPES)}.")
    ] = "read,ask",
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin allowed to use the key from a browser (widget); repeatable."),
    ] = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    widget: Annotated[
        bool,
        typer.Option(
            "--widget",
            help=f"A chat-widget key: only {', '.join(WIDGET_SCOPES)}, only from --origin.",
        ),
    ] = False,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    scopes = [s.strip() for s in scope.split(",") if s.strip()]
    with _session() as session:
        try:
            created = create_key(
                session,
                tenant,
                scopes,
                name=name,
                allowed_origins=origin or [],
                kind="widget" if widget else "api",
            )
        except ValueError as error:
            err_console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        session.commit()
        ident = created.record.id
    kind = "widget key" if widget else "key"
    err_console.print(f"{kind} {ident} for tenant {tenant} ({', '.join(scopes)}); store it now:")
    typer.echo(created.key)


@keys_cli.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
) -> None:
    """Keys with their prefix, scopes, origins and state (never the key itself)."""
    table = Table(
        "id", "tenant", "kind", "name", "prefix", "scopes", "origins", "created", "revoked"
    )
    with _session() as session:
        for key in list_keys(session, tenant):
            table.add_row(
                str(key.id),
                key.tenant,
                key.kind,
                key.name,
                key.prefix,
                ",".join(key.scopes),
                " ".join(key.allowed_origins),
                key.created_at.isoformat(),
                key.revoked_at.isoformat() if key.revoked_at else "",
            )
    console.print(table)


@keys_cli.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="Id shown by `imon keys list`.")]) -> None:
    """Revoke a key: requests with it are refused (401) from now on."""
    with _session() as session:
        try:
            revoke_key(session, key_id)
        except NotFoundError as error:
            err_console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        session.commit()
    console.print(f"key {key_id} revoked")
