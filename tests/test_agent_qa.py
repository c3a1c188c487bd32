"""The fast subset of the QA set (eval/qa) over the fixed store: accuracy and dates."""

from __future__ import annotations

from pathlib import Path

from eval.qa.runner import run


def test_qa_subset_is_at_least_95_percent_correct_without_invented_dates(
    shared_data: Path,
) -> None:
    result = run(subset=True)

    assert result["questions"] >= 20
    assert result["accuracy"] >= 0.95, result["failures"]
    assert result["invented_dates"] == 0, result["failures"]
    assert result["citation_precision"] == 1.0
