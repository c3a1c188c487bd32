"""What every `imon` command shares: settings with logging, and opening the store."""

from __future__ import annotations

import typer
from rich.console import Console

from app.runtime import Services, build_services, configure_logging
from app.settings import Settings, load_settings
from store.errors import HomeLockedError

err_console = Console(stderr=True)


def cli_settings() -> Settings:
    """The settings of a CLI process, with logging configured once."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return settings


def open_services(settings: Settings | None = None, with_worker: bool = False) -> Services:
    """Open the store as its writer, or exit 2 saying why another process holds it."""
    try:
        return build_services(settings or cli_settings(), with_worker=with_worker)
    except HomeLockedError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
