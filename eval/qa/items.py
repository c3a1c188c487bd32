"""QA items: what a correct answer must contain, and helpers for the question families.

Every expected value is computed here from :class:`eval.qa.truth.Truth` (plain reads of
the store) and from periods worked out by hand relative to the fixed ``now``; nothing
is copied from the planner's answers. Conversations are tuples of turns; the last
turn's answer is scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from eval.qa.truth import Row, z

#: Anomalies listed at most in one answer (``agent.compose.MAX_LISTED``, the contract).
LIST_CAP = 20


@dataclass(frozen=True)
class QAItem:
    """One question (or conversation) and what a correct answer must contain.

    ``ids``: the anomalies the answer may cite (precision) and, up to ``LIST_CAP``, must
    cite (recall); ``total``: a count the text must state; ``dates``: dates the text
    must contain exactly; ``names``: words the text must contain; ``first_line``: words
    its first line must contain; ``plot_channel``: the channel id the plot URL must
    show; ``unanswerable``: the answer must say it cannot answer.
    """

    id: str
    family: str
    lang: str
    turns: tuple[str, ...]
    ids: frozenset[int] | None = None
    total: int | None = None
    dates: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    first_line: tuple[str, ...] = ()
    plot_channel: int | None = None
    unanswerable: bool = False
    subset: bool = False
    notes: dict[str, object] = field(default_factory=dict)


# --- periods worked out by hand from "now" ------------------------------------------------


def periods(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": (midnight, now),
        "yesterday": (midnight - timedelta(days=1), midnight),
        "last hour": (now - timedelta(hours=1), now),
        "last 3 hours": (now - timedelta(hours=3), now),
        "last 6 hours": (now - timedelta(hours=6), now),
        "last month": (now - timedelta(days=30), now),
        "last week": (now - timedelta(days=7), now),
        # 15:00 CET (UTC+1) on the previous day, the last 15:00 CET before now
        "since 15 CET": (midnight - timedelta(hours=10), now),
        "since 9 CET": (midnight + timedelta(hours=8), now),
        "1 March 18-22": (midnight - timedelta(hours=6), midnight - timedelta(hours=2)),
        "january 2020": (
            datetime(2020, 1, 1, tzinfo=now.tzinfo),
            datetime(2020, 2, 1, tzinfo=now.tzinfo),
        ),
    }


def listed(
    item_id: str,
    family: str,
    lang: str,
    question: str | tuple[str, ...],
    rows: Iterable[Row],
    period: tuple[datetime, datetime] | None,
    subset: bool = False,
) -> QAItem:
    found = list(rows)
    return QAItem(
        id=item_id,
        family=family,
        lang=lang,
        turns=(question,) if isinstance(question, str) else question,
        ids=frozenset(r.id for r in found),
        total=len(found) if found else None,
        dates=() if period is None else (z(period[0]), z(period[1])),
        subset=subset,
    )
