"""`imon backfill`: re-read a time range of a configured source through the pipeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from app.runtime import build_services, configure_logging, configured_sources
from app.settings import load_settings
from ingestion.backfill import backfill as run_backfill
from store.errors import HomeLockedError

err_console = Console(stderr=True)


def _when(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        err_console.print(f"[red]error:[/red] --{name} {text!r} is not ISO 8601")
        raise typer.Exit(2) from None
    if value.tzinfo is None:
        err_console.print(f"[red]error:[/red] --{name} {text!r} needs a zone, e.g. Z")
        raise typer.Exit(2)
    return value


def backfill(
    source: Annotated[str, typer.Option(help="Name of a source in the sources file.")],
    start: Annotated[str, typer.Option(help="ISO start with zone, e.g. 2024-05-01T00:00:00Z.")],
    end: Annotated[str, typer.Option(help="ISO end with zone.")],
) -> None:
    """Re-read [start, end] of a configured source; idempotent, corrections counted."""
    settings = load_settings()
    configure_logging(settings.log_level)
    first, last = _when("start", start), _when("end", end)
    sources = {item.name: item for item in configured_sources(settings.sources_file)}
    if source not in sources:
        err_console.print(
            f"[red]error:[/red] --source {source!r} is not in the sources file; "
            f"known: {', '.join(sorted(sources)) or 'none'}"
        )
        raise typer.Exit(2)
    try:
        services = build_services(settings)
    except HomeLockedError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    try:
        report = run_backfill(services.pipeline, sources[source], first, last)
    except ValueError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    finally:
        for item in sources.values():
            item.close()
        services.close()
    typer.echo(json.dumps(report.as_dict()))
