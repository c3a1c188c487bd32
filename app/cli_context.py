"""`imon events …` and `imon knowledge …`: context for explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import err_console, open_services

events_cli = typer.Typer(help="Context events: telecommands, manoeuvres, eclipses.")
knowledge_cli = typer.Typer(help="Operator documents used by explanations.")
console = Console()


@events_cli.command("add")
def add_events(
    path: Annotated[Path, typer.Argument(help="CSV (columns ts,kind,text) or JSON list.")],
    satellite: Annotated[str, typer.Option(help="Satellite of events that do not name one.")],
) -> None:
    """Store context events from a file; bad rows are reported by index and field."""
    from sqlmodel import Session

    from ingestion.errors import TelemetryFileError
    from ingestion.event_files import read_event_file, validate_events
    from store.events import store_events

    try:
        rows = read_event_file(path)
    except TelemetryFileError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    checked = validate_events(rows, satellite=satellite)
    for bad in checked.errors[:20]:
        err_console.print(f"  item {bad['index']}, field {bad['field']!r}: {bad['reason']}")
    services = open_services()
    try:
        with Session(services.engine) as session:
            stored, duplicates = store_events(session, checked.events)
            session.commit()
    finally:
        services.close()
    console.print(
        f"{stored} events stored, {duplicates} already stored, {len(checked.errors)} rejected"
    )
    if checked.errors and not checked.events:
        raise typer.Exit(1)


@knowledge_cli.command("add")
def add_knowledge(
    paths: Annotated[list[Path], typer.Argument(help="Markdown or text files.")],
    tenant: Annotated[
        str | None,
        typer.Option(help="Tenant whose own document this is; none: shared by every tenant."),
    ] = None,
) -> None:
    """Split documents into passages and embed them; re-adding a file replaces it.

    Without --tenant a document is shared (the operations manual every tenant's answers
    may quote); with --tenant only that tenant's answers can find it.
    """
    from store.knowledge import KnowledgeFileError, read_document, split_passages

    try:
        documents = [(p.name, split_passages(read_document(p))) for p in paths]
    except KnowledgeFileError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    services = open_services()
    try:
        if services.knowledge is None:
            err_console.print("the index is switched off (IMON_INDEX=0)")
            raise typer.Exit(1)
        for name, passages in documents:
            written = services.knowledge.replace_source(name, passages, tenant=tenant or None)
            scope = f"tenant {tenant}" if tenant else "shared"
            console.print(f"{name}: {written} passages ({scope})")
    finally:
        services.close()


@knowledge_cli.command("list")
def list_knowledge() -> None:
    """Documents in the knowledge index and their passage counts."""
    services = open_services()
    try:
        if services.knowledge is None:
            err_console.print("the index is switched off (IMON_INDEX=0)")
            raise typer.Exit(1)
        documents = services.knowledge.documents()
    finally:
        services.close()
    table = Table("document", "tenant", "passages")
    for tenant, name, count in documents:
        table.add_row(name, tenant or "(shared)", str(count))
    console.print(table)
