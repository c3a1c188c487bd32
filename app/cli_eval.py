"""`imon eval`: detection benchmarks and the agent QA set, written to eval/RESULTS.md.

The `eval` package is imported inside the commands only: the service never imports it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

eval_cli = typer.Typer(help="Evaluate detection and the assistant on labelled data.")
console = Console()

DEFAULT_DATA = Path("..") / "shared" / "data"
QA_BEGIN = "<!-- qa:begin -->"
QA_END = "<!-- qa:end -->"


def _data_dir(given: Path | None) -> Path:
    data = given or Path(os.environ.get("IMON_EVAL_DATA", str(DEFAULT_DATA)))
    if not (data / "manifest.json").exists():
        console.print(f"[red]error:[/red] --data {data}: no manifest.json there")
        raise typer.Exit(2)
    return data


@eval_cli.command("run")
def run_benchmarks(
    dataset: Annotated[
        list[str] | None, typer.Option(help="nab, smap, msl, ucr, tcpd; repeatable.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Series per benchmark.")] = None,
    data: Annotated[Path | None, typer.Option(help="Folder with manifest.json.")] = None,
    out: Annotated[Path, typer.Option(help="Report to write.")] = Path("eval/RESULTS.md"),
) -> None:
    """Run the detector and the baselines on every benchmark; write the report."""
    from eval.report import to_markdown
    from eval.runner import run_eval

    results = run_eval(_data_dir(data), dataset, limit)
    kept = _marked_sections(out)
    out.write_text(to_markdown(results) + "".join("\n" + section for section in kept))
    console.print(f"written to {out}")


@eval_cli.command("qa")
def run_qa(
    subset: Annotated[bool, typer.Option(help="Only the quick subset.")] = False,
    out: Annotated[Path, typer.Option(help="Report to update.")] = Path("eval/RESULTS.md"),
) -> None:
    """Score the offline planner on the QA set; replace its section in the report."""
    from eval.qa.runner import markdown_section, run

    result = run(subset=subset)
    section = f"{QA_BEGIN}\n{markdown_section(result)}{QA_END}\n"
    text = out.read_text() if out.exists() else ""
    if QA_BEGIN in text and QA_END in text:
        head, rest = text.split(QA_BEGIN, 1)
        text = head + section + rest.split(QA_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)
    console.print(
        f"{result['correct']}/{result['questions']} correct, "
        f"{result['invented_dates']} invented dates; written to {out}"
    )


def _marked_sections(path: Path) -> list[str]:
    """Sections between `<!-- name:begin -->` and `<!-- name:end -->` markers, kept verbatim."""
    if not path.exists():
        return []
    text = path.read_text()
    pattern = re.compile(r"<!-- (\w+):begin -->.*?<!-- \1:end -->\n?", re.DOTALL)
    return [match.group(0) for match in pattern.finditer(text)]


@eval_cli.command("forecast")
def run_forecast(
    data: Annotated[Path | None, typer.Option(help="Folder with manifest.json.")] = None,
    out: Annotated[Path, typer.Option(help="Report to update.")] = Path("eval/RESULTS.md"),
) -> None:
    """Backtest forecasts on the held-back ends of real series; update their section."""
    from eval.forecast_backtest import insert_section, run_backtests, to_markdown

    rows = run_backtests(_data_dir(data))
    insert_section(out, to_markdown(rows))
    console.print(f"{len(rows)} series backtested; written to {out}")


@eval_cli.command("bench")
def run_bench(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="streaming, ingest, http_push, ask, worker, vector; repeatable."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Report to write.")] = Path("eval/BENCH.md"),
) -> None:
    """Run the performance benchmarks against their same-run baselines; write the report."""
    import time

    from app.runtime import configure_logging
    from eval.bench.common import machine
    from eval.bench.report import to_markdown, write
    from eval.bench.runner import run_all

    configure_logging("INFO")
    begin = time.perf_counter()
    try:
        results = run_all(only)
    except ValueError as error:
        console.print(f"[red]error:[/red] --only: {error}")
        raise typer.Exit(2) from None
    command = "imon eval bench" + "".join(f" --only {name}" for name in only or [])
    write(out, to_markdown(results, machine(), time.perf_counter() - begin, command))
    missed = [f.name for r in results for f in r.figures if f.met is False]
    console.print(f"{sum(len(r.figures) for r in results)} figures, {len(missed)} targets missed")
    console.print(f"written to {out}")
