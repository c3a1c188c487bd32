"""eval/BENCH.md: every figure next to its baseline, ratio and target, and the machine."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from eval.bench.common import BenchResult, Figure

#: Hand-written sections between `<!-- name:begin -->` and `<!-- name:end -->` survive reruns.
_MARKED = re.compile(r"<!-- (\w+):begin -->.*?<!-- \1:end -->\n?", re.DOTALL)


def number(value: float) -> str:
    """A figure with a precision that suits its size."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _met(figure: Figure) -> str:
    if figure.met is None:
        return "-"
    return "**met**" if figure.met else "**not met**"


def to_markdown(
    results: list[BenchResult], machine: dict[str, str], seconds: float, command: str
) -> str:
    """The whole report as Markdown."""
    lines = [
        "# Performance benchmarks",
        "",
        f"Written by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC in "
        f"{seconds / 60:.1f} min. Every figure is compared with a baseline measured in the "
        "same run on the same machine; the ratio is oriented so that above 1 means the "
        "measured path is better than its baseline.",
        "",
        "| machine | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += [
        "",
        "## Summary",
        "",
        "| benchmark | figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for f in result.figures:
            lines.append(
                f"| {f.benchmark} | {f.name} | {number(f.value)} {f.unit} | "
                f"{f.baseline_name}: {number(f.baseline)} | {number(f.ratio)}x | "
                f"{f.target} | {_met(f)} |"
            )
    for result in results:
        lines += ["", f"## {result.name}: {result.title}", ""]
        lines.append(f"Took {result.seconds:.0f} s. Sizes: " + _sizes(result) + ".")
        notes = [f"{f.name}: {f.note}" for f in result.figures if f.note]
        notes += result.notes
        if notes:
            lines.append("")
            lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _sizes(result: BenchResult) -> str:
    return ", ".join(f"{key} {value}" for key, value in result.sizes.items()) or "-"


def write(path: Path, text: str) -> None:
    """Write the report, keeping the hand-written marked sections of the previous one."""
    previous = path.read_text() if path.exists() else ""
    sections = [match.group(0) for match in _MARKED.finditer(previous)]
    path.write_text(text + "".join("\n" + section for section in sections))
