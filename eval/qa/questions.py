"""The QA set: questions (English and French) with results expected from the store.

Every expected value is computed from :class:`eval.qa.truth.Truth` (plain reads of the
store) and from periods worked out by hand relative to the fixed ``now``; nothing is
copied from the planner's answers. Conversations are tuples of turns; the last turn's
answer is scored.
"""

from __future__ import annotations

from datetime import datetime

from eval.qa.items import LIST_CAP, QAItem
from eval.qa.questions_context import (
    eclipses,
    explanations,
    follow_ups,
    plots,
    states,
    unanswerable,
)
from eval.qa.questions_lookup import counts, last_times, listing, rankings
from eval.qa.truth import Truth

__all__ = ["LIST_CAP", "QAItem", "build_items"]


def build_items(truth: Truth, now: datetime) -> list[QAItem]:
    """The whole QA set over the store ``truth`` reads, for questions asked at ``now``."""
    items: list[QAItem] = []
    items += listing(truth, now)
    items += counts(truth, now)
    items += rankings(truth, now)
    items += last_times(truth)
    items += explanations(truth)
    items += states(truth, now)
    items += eclipses(truth)
    items += follow_ups(truth, now)
    items += plots(truth, now)
    items += unanswerable()
    return items
