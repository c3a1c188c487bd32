"""Scoring one answer against a QA item: dates, citations, invented dates, correctness."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from eval.qa.questions import LIST_CAP, QAItem

#: ISO 8601 UTC dates as the service writes them (the text and the plot URL).
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}(?::|%3A)\d{2}(?::|%3A)\d{2}(?:\.\d+)?Z")
#: Words of an honest "cannot answer" reply, per language of the question.
CANNOT = {"en": "I cannot answer that", "fr": "Je ne peux pas répondre à cela"}


@dataclass
class ItemScore:
    """How one answer did; ``failures`` names every failed check."""

    item: QAItem
    answer: str
    cited: list[int]
    latency_ms: float
    dates_expected: int = 0
    dates_matched: int = 0
    precision: float | None = None
    recall: float | None = None
    invented_dates: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return not self.failures


def score(item: QAItem, answer: Any, tool_results: list[Any], latency_ms: float) -> ItemScore:
    """Check an ``AskResult`` (and the raw results of its tools) against ``item``."""
    text: str = answer.answer
    cited = [a.id for a in answer.anomalies]
    result = ItemScore(item=item, answer=text, cited=cited, latency_ms=latency_ms)

    # every date of the text and of the plot link must come from a tool result
    returned = json.dumps(tool_results)
    shown = ISO_Z.findall(text) + ISO_Z.findall(answer.plot_url or "")
    result.invented_dates = sorted({d for d in shown if d.replace("%3A", ":") not in returned})
    if result.invented_dates:
        result.failures.append(f"invented dates {result.invented_dates}")

    result.dates_expected = len(item.dates)
    result.dates_matched = sum(1 for d in item.dates if d in text)
    if result.dates_matched < result.dates_expected:
        missing = [d for d in item.dates if d not in text]
        result.failures.append(f"missing dates {missing}")

    if item.ids is not None:
        expected = set(item.ids)
        hits = len(expected & set(cited))
        result.precision = hits / len(cited) if cited else 1.0
        wanted = min(len(expected), LIST_CAP)
        result.recall = min(hits / wanted, 1.0) if wanted else 1.0
        if result.precision < 1.0:
            result.failures.append(f"cited {sorted(set(cited) - expected)} not expected")
        if result.recall < 1.0 and item.family not in ("explain",):
            result.failures.append(f"cited {hits} of {wanted} expected anomalies")

    if item.total is not None and not re.search(rf"(?<![\d#]){item.total}\b", text):
        result.failures.append(f"count {item.total} not stated")
    for word in item.names:
        if word not in text:
            result.failures.append(f"{word!r} not in the answer")
    first = text.splitlines()[0] if text else ""
    for word in item.first_line:
        if not re.search(rf"(?<![\w#]){re.escape(word)}(?![\w])", first):
            result.failures.append(f"{word!r} not in the first line")
    if item.plot_channel is not None and not (answer.plot_url or "").startswith(
        f"/channels/{item.plot_channel}/plot.png"
    ):
        result.failures.append(f"plot_url {answer.plot_url!r} is not channel {item.plot_channel}")
    if item.unanswerable != text.startswith(CANNOT[item.lang]):
        result.failures.append(
            "honest 'cannot answer' expected" if item.unanswerable else "answered 'cannot answer'"
        )
    return result
