"""The `imon` command line."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from app.auth import client_headers
from app.cli_backfill import backfill
from app.cli_common import cli_settings, err_console, open_services
from app.cli_context import events_cli, knowledge_cli
from app.cli_eval import eval_cli
from app.cli_keys import keys_cli
from app.cli_models import limits_cli, report, train
from app.cli_tenant import tenant_cli
from app.settings import Settings

logger = logging.getLogger(__name__)
cli = typer.Typer(
    help="Intelligent Monitoring: satellite telemetry anomalies.", no_args_is_help=True
)
console = Console()
cli.command()(backfill)


def _check_satellite(name: str) -> str:
    """The satellite name, refused when blank, over-long or holding control characters."""
    from ingestion.push import has_control_characters

    stripped = name.strip()
    if not stripped or len(stripped) > 200 or has_control_characters(stripped):
        err_console.print(
            f"[red]error:[/red] --satellite {name!r}: expected 1 to 200 printable characters"
        )
        raise typer.Exit(2)
    return stripped


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the HTTP API with the ingestion worker in-process."""
    import uvicorn

    from app.main import create_app

    settings = cli_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


@cli.command()
def worker() -> None:
    """Run the ingestion worker alone, in the foreground."""
    settings = cli_settings()
    services = open_services(settings, with_worker=True)
    assert services.worker is not None
    if not services.worker.sources:
        err_console.print("no source configured (set IMON_SIMULATOR=1 for the simulator)")
        services.close()
        raise typer.Exit(1)
    services.worker.start()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        services.close()


def _print_file_errors(errors: list[Any], limit: int = 20) -> None:
    for error in errors[:limit]:
        row = f"row {error.row}" if error.row is not None else "file"
        err_console.print(f"  {row}, field {error.field!r}: {error.reason} ({error.value})")
    if len(errors) > limit:
        err_console.print(f"  … and {len(errors) - limit} more")


def _columns(given: list[str] | None) -> list[int | str] | None:
    if not given:
        return None
    return [int(c) if c.isdigit() else c for c in given]


@cli.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="CSV, Parquet, .npy or .txt file.")],
    satellite: Annotated[str, typer.Option(help="Satellite the channels belong to.")],
    tz: Annotated[str | None, typer.Option(help="Zone of naive timestamps (IANA).")] = None,
    time_unit: Annotated[str | None, typer.Option(help="Epoch unit: s, ms, us, ns.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Name of the time column.")] = None,
    start: Annotated[str | None, typer.Option(help="ISO start of index-only data.")] = None,
    cadence: Annotated[
        str | None, typer.Option(help="Step of index-only data, e.g. 1min.")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="Only this column (name or 0-based position); repeatable."),
    ] = None,
    detect: Annotated[bool, typer.Option(help="Run detection over what is ingested.")] = True,
) -> None:
    """Ingest a telemetry file into the store and detect anomalies in it."""
    from ingestion.errors import TelemetryFileError
    from ingestion.files import read_telemetry

    settings = cli_settings()
    satellite = _check_satellite(satellite)
    try:
        parsed = read_telemetry(
            path,
            tz=tz,
            time_unit=time_unit,
            start=start,
            cadence=cadence,
            time_column=time_column,
            columns=_columns(column),
        )
    except TelemetryFileError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if parsed.errors:
        err_console.print(f"{parsed.error_count} rows rejected:")
        _print_file_errors(parsed.errors)
    if parsed.ignored_columns:
        err_console.print(
            "[yellow]warning:[/yellow] columns ignored (not numeric; pass --column to pick "
            f"value columns): {', '.join(parsed.ignored_columns)}"
        )
    services = open_services(settings)
    try:
        report = services.pipeline.ingest(
            satellite, parsed.points, source=f"file:{path.name}", detect=detect
        )
    finally:
        services.close()
    stored_any = report.inserted + report.corrected + report.unchanged > 0
    console.print(
        f"{satellite}: {report.inserted} points stored, {report.corrected} corrected, "
        f"{report.unchanged} unchanged, {parsed.error_count} rejected, channels "
        f"{', '.join(report.channels)}; anomalies: {report.anomalies_new} new, "
        f"{report.anomalies_updated} updated"
    )
    if not stored_any:
        err_console.print("[red]error:[/red] no valid point in the file; nothing was stored")
        raise typer.Exit(1)


@cli.command()
def replay(
    path: Annotated[Path, typer.Argument(help="File to send, as `imon ingest` reads it.")],
    satellite: Annotated[str, typer.Option(help="Satellite the channels belong to.")],
    speed: Annotated[float, typer.Option(help="Times faster than real time; 0: no wait.")] = 0,
    shift_to_now: Annotated[bool, typer.Option(help="Move the last point to now.")] = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Points per request.")] = 1000,
    start: Annotated[str | None, typer.Option(help="ISO start of index-only data.")] = None,
    cadence: Annotated[str | None, typer.Option(help="Step of index-only data.")] = None,
    tz: Annotated[str | None, typer.Option(help="Zone of naive timestamps.")] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="Only this column (name or 0-based position); repeatable."),
    ] = None,
) -> None:
    """Send a file to the running service over HTTP as if it were arriving live."""
    from app.replay import ReplayError, replay_file

    settings = cli_settings()
    try:
        totals = replay_file(
            settings.url,
            path,
            satellite,
            speed=speed,
            shift_to_now=shift_to_now,
            batch=batch,
            start=start,
            cadence=cadence,
            tz=tz,
            columns=_columns(column),
            headers=client_headers(settings),
        )
    except ReplayError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    found = (
        "detection runs in the service's background stage (see GET /anomalies)"
        if totals["detection_queued"]
        else f"{totals['anomalies_new']} anomalies new"
    )
    console.print(
        f"sent {totals['sent']} points: {totals['inserted']} stored, "
        f"{totals['rejected']} rejected, {found}"
    )


@cli.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer.")] = False,
    conversation: Annotated[str | None, typer.Option(help="Conversation id to continue.")] = None,
) -> None:
    """Ask the assistant; uses the running service, or the store directly when none runs."""
    settings = cli_settings()
    payload = {"question": question, "conversation_id": conversation}
    try:
        response = httpx.post(
            f"{settings.url}/ask", json=payload, headers=client_headers(settings), timeout=60
        )
        if response.status_code >= 400:
            err_console.print(f"[red]error {response.status_code}:[/red] {response.text}")
            raise typer.Exit(2)
        result: dict[str, Any] = response.json()
    except httpx.ConnectError:
        result = _ask_locally(settings, question, conversation)
    if as_json:
        console.print_json(json.dumps(result))
    else:
        console.print(result["answer"])


def _ask_locally(settings: Settings, question: str, conversation: str | None) -> dict[str, Any]:
    from agent import ask as ask_agent
    from agent.schema import AskRequest
    from app.agent_mode import llm_config

    request = AskRequest(question=question, conversation_id=conversation)
    services = open_services(settings)
    try:
        answer = ask_agent(
            services.tool_context("default"),
            request.question,
            request.conversation_id,
            llm=llm_config(settings),
        )
    finally:
        services.close()
    return answer.model_dump(mode="json")


def _parse_utc(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        err_console.print(f"[red]error:[/red] --{name}: {text!r} is not an ISO 8601 date")
        raise typer.Exit(2) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@cli.command()
def detect(
    channel: Annotated[str, typer.Option(help="Channel name.")],
    satellite: Annotated[str | None, typer.Option(help="Satellite, when names repeat.")] = None,
    start: Annotated[str | None, typer.Option(help="ISO start (UTC if no zone).")] = None,
    end: Annotated[str | None, typer.Option(help="ISO end (UTC if no zone).")] = None,
    save: Annotated[bool, typer.Option(help="Store what is found.")] = False,
) -> None:
    """Run the detectors in batch over stored points of a channel."""
    from sqlmodel import Session

    from store import queries

    settings = cli_settings()
    first, last = _parse_utc("start", start), _parse_utc("end", end)
    services = open_services(settings)
    try:
        with Session(services.engine) as session:
            matches = [c for c in queries.list_channels(session, satellite) if c.name == channel]
        if len(matches) != 1:
            err_console.print(
                f"[red]error:[/red] --channel {channel!r} matches {len(matches)} channels; "
                "name one that `imon ask 'list channels'` shows, with --satellite if needed"
            )
            raise typer.Exit(2)
        target = matches[0]
        found = services.pipeline.detect_range(
            target.id, first or target.first or datetime.now(UTC), last or datetime.now(UTC)
        )
        if save:
            services.pipeline.store_detected(target.id, found)
    finally:
        services.close()
    table = Table("detector", "kind", "start", "end", "severity", "score")
    for item in found:
        table.add_row(
            item.detector,
            item.kind,
            item.start.isoformat(),
            item.end.isoformat(),
            item.severity,
            f"{item.score:.1f}",
        )
    console.print(table)


@cli.command()
def warm() -> None:
    """Compile the detectors' numba kernels into NUMBA_CACHE_DIR, so starts are fast."""
    import numpy as np

    from detection import detect_series, enable_compile_cache

    enable_compile_cache()
    steps = np.arange(3000, dtype=np.int64) * 60_000_000_000
    values = np.sin(np.arange(3000) / 20.0) + np.random.default_rng(0).normal(0, 0.1, 3000)
    found = detect_series(steps, values)
    console.print(f"detector kernels compiled and cached ({len(found)} test anomalies)")


@cli.command()
def reindex() -> None:
    """Rebuild the vector index from the SQL store."""
    from sqlmodel import Session

    from store import queries
    from store.vector import index_by_tenant

    settings = cli_settings()
    services = open_services(settings)
    try:
        if services.index is None:
            err_console.print("the index is switched off (IMON_INDEX=0)")
            raise typer.Exit(1)
        services.index.reset()
        written, offset = 0, 0
        with Session(services.engine) as session:
            while True:
                page, _total = queries.list_anomalies(session, limit=1000, offset=offset)
                if not page:
                    break
                written += index_by_tenant(services.index, services.engine, page)
                offset += len(page)
            notes = _reindex_notes(session, services.index)
    finally:
        services.close()
    console.print(f"indexed {written} anomalies and {notes} annotations")


def _reindex_notes(session: Any, index: Any) -> int:
    """Re-embed every annotation under the tenant that owns its satellite."""
    from store.annotations import all_annotations, note_docs
    from store.queries import tenants_of_channels

    written, offset = 0, 0
    while page := all_annotations(session, limit=1000, offset=offset):
        docs = note_docs(session, page)
        owners = tenants_of_channels(session, sorted({d.anomaly.channel_id for d in docs}))
        by_tenant: dict[str, list[Any]] = {}
        for doc in docs:
            by_tenant.setdefault(owners.get(doc.anomaly.channel_id, "default"), []).append(doc)
        for tenant, group in by_tenant.items():
            written += index.upsert_notes(group, tenant=tenant)
        offset += len(page)
    return written


cli.add_typer(events_cli, name="events")
cli.add_typer(knowledge_cli, name="knowledge")
cli.add_typer(eval_cli, name="eval")
cli.add_typer(limits_cli, name="limits")
cli.command()(train)
cli.command()(report)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(tenant_cli, name="tenant")


def main() -> None:
    """Entry point of the `imon` console script."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
