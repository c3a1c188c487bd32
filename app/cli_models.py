"""`imon train`, `imon limits import` and `imon report`: models, limits and reports."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import cli_settings, err_console, open_services
from app.settings import Settings

limits_cli = typer.Typer(help="Operating limits of channels.")
console = Console()


_REF_HELP = "a period you vouch for as normal, ISO 8601 with a timezone"


def train(
    satellite: Annotated[str | None, typer.Option(help="Only this satellite.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only channels of this name.")] = None,
    reference_start: Annotated[
        str | None, typer.Option(help=f"Train on {_REF_HELP} (its start); it is the reference.")
    ] = None,
    reference_end: Annotated[str | None, typer.Option(help=f"End of {_REF_HELP}.")] = None,
) -> None:
    """Learn each channel's model from its stored history; store it as the active version.

    With --reference-start/--reference-end the model is trained on that period only, and
    the period (without stretches covered by anomalies) becomes the channel's reference:
    new data is compared with it. Asks the running service (POST /models/train) when one
    answers at IMON_URL, so its worker detects with the new models at once; trains on the
    store directly otherwise.
    """
    from ingestion.training import check_normal_range

    try:
        normal = check_normal_range(
            _when("reference_start", reference_start), _when("reference_end", reference_end)
        )
    except ValueError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    settings = cli_settings()
    try:
        rows = _train_remotely(settings, satellite, channel, normal)
    except httpx.ConnectError:
        rows = _train_locally(satellite, channel, normal)
    table = Table("satellite", "channel", "version", "period", "m", "window", "coverage", "note")
    for r in rows:
        p, q = r.get("params") or {}, r.get("quality") or {}
        cov = q.get("forecast_coverage")
        table.add_row(
            r["satellite"],
            r["channel"],
            str(r.get("version") or "-"),
            str(p.get("period") or "-"),
            str(p.get("m", "-")),
            str(p.get("window", "-")),
            f"{cov:.2f}" if cov is not None else "-",
            r.get("error") or "",
        )
    console.print(table)
    for r in rows:
        reference = (r.get("params") or {}).get("reference")
        if isinstance(reference, dict):
            console.print(f"{r['satellite']}/{r['channel']}: {_reference_text(reference)}")
    if not rows:
        err_console.print("no channel matched")
        raise typer.Exit(1)


def _when(name: str, text: str | None) -> datetime | None:
    """`text` as a datetime; ValueError naming the option when it is not ISO 8601."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name}={text!r} is not an ISO 8601 time; write e.g. 2026-03-01T00:00:00Z"
        ) from None


def _reference_text(reference: dict[str, Any]) -> str:
    """One line on a trained reference: size, range, whether it was vouched for."""
    vouched = "vouched for as normal" if reference.get("vouched") else "not vouched for"
    return (
        f"reference of {reference.get('points')} points, {reference.get('start')} to "
        f"{reference.get('end')} ({vouched})"
    )


def _train_remotely(
    settings: Settings,
    satellite: str | None,
    channel: str | None,
    normal: tuple[datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    from app.auth import client_headers

    params = {k: v for k, v in (("satellite", satellite), ("channel", channel)) if v}
    if normal is not None:
        params["reference_start"], params["reference_end"] = (t.isoformat() for t in normal)
    response = httpx.post(
        f"{settings.url}/models/train",
        params=params,
        headers=client_headers(settings),
        timeout=None,
    )
    if response.status_code >= 400:
        detail = response.json().get("detail") if response.content else response.text
        err_console.print(f"[red]error {response.status_code}:[/red] {detail}")
        raise typer.Exit(2)
    rows: list[dict[str, Any]] = response.json()["results"]
    return rows


def _train_locally(
    satellite: str | None, channel: str | None, normal: tuple[datetime, datetime] | None = None
) -> list[dict[str, Any]]:
    from ingestion.training import TrainingBusyError, train_channels

    services = open_services()
    try:
        results = train_channels(
            services.engine,
            services.settings.home.resolve(),
            satellite=satellite,
            channel=channel,
            keep=services.settings.model_versions_kept,
            normal_range=normal,
        )
    except TrainingBusyError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    finally:
        services.close()
    return [dataclasses.asdict(r) for r in results]


@limits_cli.command("import")
def import_limits(
    path: Annotated[Path, typer.Argument(help="CSV or YAML: satellite, channel, low, high.")],
) -> None:
    """Import channel limits (satellite, channel, low, high) as operators keep them."""
    from sqlmodel import Session

    from app.limits_file import LimitsFileError, read_limits
    from ingestion.pipeline import channel_by_name
    from store import channel_models

    try:
        rows = read_limits(path)
    except LimitsFileError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    services = open_services()
    stored, missing = 0, []
    try:
        with Session(services.engine) as session:
            for row in rows:
                found = channel_by_name(session, row["satellite"], row["channel"])
                if found is None or found.id is None:
                    missing.append(f"{row['satellite']}/{row['channel']}")
                    continue
                channel_models.set_limits(session, found.id, row["low"], row["high"], "imported")
                stored += 1
            session.commit()
    finally:
        services.close()
    console.print(f"imported limits of {stored} channels")
    for name in missing:
        err_console.print(f"unknown channel {name}: skipped")


def report(
    satellite: Annotated[str, typer.Option(help="Satellite to report on.")],
    period: Annotated[str, typer.Option(help="How far back: 24h, 7d, 2w.")] = "7d",
    out: Annotated[Path | None, typer.Option(help="Write here (.html or .pdf).")] = None,
) -> None:
    """Render a satellite's report (HTML; PDF when WeasyPrint is installed)."""
    from app.reports import ReportError, build_report, prune_reports, save_report, to_pdf
    from store.errors import NotFoundError

    services = open_services()
    try:
        ctx = services.tool_context("default")
        ctx.now = lambda: datetime.now(UTC)
        built = build_report(ctx, satellite, period)
        home = services.settings.home.resolve()
        prune_reports(home, services.settings.report_retention_days)
        target = _write(out, built, home, save_report, to_pdf)
    except (ReportError, NotFoundError) as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    finally:
        services.close()
    console.print(f"report written to {target}")


def _write(out: Path | None, built: Any, home: Path, save: Any, to_pdf: Any) -> Path:
    if out is None:
        path: Path = save(home, built)
        return path
    if out.suffix.lower() == ".pdf":
        pdf = to_pdf(built.html)
        if pdf is None:
            err_console.print(
                "PDF needs WeasyPrint (pip install weasyprint); writing HTML instead"
            )
            out = out.with_suffix(".html")
        else:
            out.write_bytes(pdf)
            return out
    out.write_text(built.html)
    return out
