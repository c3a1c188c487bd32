"""Smoke run of the evaluation runner and report on two short series."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from eval.__main__ import main
from eval.project import run_project
from eval.report import to_markdown, write_report
from eval.runner import benchmark_rows, resolve_benchmarks, run_eval
from eval.tasks import EvalSeries


def _num(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


SERIES = ("artificialWithAnomaly/art_daily_jumpsup", "nile")


@pytest.fixture(scope="module")
def results(shared_data: Path) -> dict[str, object]:
    return run_eval(shared_data, ["nab", "tcpd"], processes=1, series_ids=SERIES)


def test_every_method_is_scored_on_both_benchmarks(results: dict[str, object]) -> None:
    nab = {r["method"]: r for r in benchmark_rows(results, "nab")}
    tcpd = {r["method"]: r for r in benchmark_rows(results, "tcpd")}
    expected = {"project", "rolling z-score", "MP discord (batch top-1)", "never fires"}
    assert expected <= set(nab) and expected <= set(tcpd)
    assert nab["never fires"]["standard"] == pytest.approx(0.0)
    for row in nab.values():
        for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
            assert -1000 <= _num(row[profile]) <= 100
    for row in tcpd.values():
        assert 0 <= _num(row["f1"]) <= 1 and 0 <= _num(row["cover"]) <= 1


def test_report_has_one_table_per_benchmark_and_anchors(results: dict[str, object]) -> None:
    text = to_markdown(results)
    assert "## NAB" in text and "## TCPD" in text and "## SMAP" not in text
    assert "| project |" in text and "ARTime" in text and "0.718" in text
    assert not any(math.isnan(_num(r["f1"])) for r in benchmark_rows(results, "tcpd"))


def test_rewriting_the_report_keeps_the_sections_other_commands_wrote(
    results: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "R.md"
    qa = "<!-- qa:begin -->\n## QA\n89/89\n<!-- qa:end -->"
    gaps = "<!-- gaps:begin -->\n## Gaps\nNAB below 65\n<!-- gaps:end -->"
    out.write_text(f"# old tables\n| project | 1 |\n\n{qa}\n\n{gaps}\n")
    write_report(results, out)
    text = out.read_text()
    assert "# old tables" not in text and "## NAB" in text
    assert qa in text and gaps in text
    assert text.index(qa) < text.index(gaps)
    write_report(results, out)
    assert out.read_text().count("<!-- qa:begin -->") == 1


def test_dataset_aliases_and_unknown_names() -> None:
    assert resolve_benchmarks(["smap_msl", "ucr"]) == ("smap", "msl", "ucr")
    with pytest.raises(ValueError, match="unknown dataset 'kdd'"):
        resolve_benchmarks(["kdd"])


def test_cli_writes_the_report(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "R.md"
    code = main(
        [
            "run",
            "--data",
            str(shared_data),
            "--dataset",
            "tcpd",
            "--limit",
            "2",
            "--processes",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and "## TCPD" in out.read_text()


def test_a_change_first_reported_at_the_flush_is_credited_at_the_last_row() -> None:
    values = np.random.default_rng(4).normal(0.0, 1.0, 40)
    values[30:] += 6.0
    ts = (np.arange(40) * 60 * 10**9).astype(np.int64)
    series = EvalSeries("tcpd", "synthetic", ts, values, [(30, 30)], annotations={"1": [30]})

    output = run_project(series)

    assert len(output.change_points) == 1 and abs(output.change_points[0] - 30) <= 1
    # reported by the flush at the end: no credit at its (earlier) start row
    assert np.flatnonzero(output.point_scores).tolist() == [39]
