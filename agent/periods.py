"""Time expressions in questions: finding them and resolving them to UTC periods.

Two steps, kept apart so the planner can show which words it read as a period:
:func:`find_period_phrase` picks the time expression out of a question, and
:func:`resolve` turns such an expression into ``[start, end]`` in UTC, relative to a
given "now". Single dates and times are parsed by dateparser (time zones such as
``3 pm CET`` are converted to UTC); the period arithmetic around them ("last week",
"yesterday", "in March", "between ... and ...") is done here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import dateparser

from agent.errors import PeriodError
from agent.lexicon import fold
from agent.period_words import (
    COMPILED,
    EVENT_PERIOD_RE,
    FRENCH_TIME,
    HAS_TIME,
    ISO_RE,
    MONTH_RE,
    NUMBER_WORDS,
    UNIT_ALIASES,
    month_number,
)

Granularity = Literal["instant", "day", "month", "year"]

#: Rolling length of "last <unit>" periods.
UNIT_LENGTHS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
#: Length of the window searched around a single instant ("at 14:00 UTC").
INSTANT_WINDOW = timedelta(hours=1)
#: Languages dateparser tries, in order (fewer languages parse faster).
LANGUAGES = ["en", "fr"]


@dataclass(frozen=True)
class Period:
    """A resolved period: UTC bounds and the words it was read from."""

    start: datetime
    end: datetime
    label: str


def find_period_phrase(text: str) -> str | None:
    """The first time expression in ``text`` (as written there, accents kept), or None."""
    folded = fold(text)
    best: tuple[int, int] | None = None
    for _name, pattern in COMPILED:
        match = pattern.search(folded)
        if match is None:
            continue
        # earliest match wins; at the same position the longer one (more specific) wins
        key = (match.start(), -(match.end() - match.start()))
        if best is None or key < best:
            best = key
    return None if best is None else text[best[0] : best[0] - best[1]].strip()


def find_event_phrase(text: str) -> tuple[str, str] | None:
    """``(event kind, phrase as written)`` for "during the last eclipse", or None."""
    match = EVENT_PERIOD_RE.search(fold(text))
    if match is None:
        return None
    return match["kind"].lower(), text[match.start() : match.end()].strip()


def resolve(phrase: str, now: datetime) -> Period:
    """Turn a time expression into a UTC period relative to ``now`` (timezone-aware).

    Raises:
        PeriodError: the expression is not understood, or its start is after its end.
    """
    label = " ".join(phrase.strip().rstrip("?!.,;").split())
    text = fold(label)
    if not label:
        raise PeriodError("empty time expression: give a period such as 'last week'")
    now = now.astimezone(UTC)

    start, end = _resolve(text, now)
    if start <= now < end:
        end = now  # a period that is still running ("today", "this month") ends now

    if start > end:
        raise PeriodError(f"the period '{text}' starts after it ends; swap its bounds")
    return Period(start=start, end=end, label=label)


def _resolve(text: str, now: datetime) -> tuple[datetime, datetime]:
    for name, pattern in COMPILED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if name == "dayrange":
            end_day, granularity = _point(match["b"], now)
            start = end_day.replace(day=int(match["d"]))
            if start > end_day:  # "between 28 and 2 March": the first day is in February
                start = (end_day.replace(day=1) - timedelta(days=1)).replace(day=int(match["d"]))
            return start, _ceil(end_day, granularity)
        if name == "between":
            start, _ = _point(match["a"], now)
            end, granularity = _point(match["b"], now)
            # "between 18:00 and 22:00" ends at 22:00; "between 1 and 3 March" at 4 March
            return start, end if granularity == "instant" else _ceil(end, granularity)
        if name == "since":
            return _point(match["a"], now)[0], now
        if name == "last":
            count = _count(match.group(1))
            unit = _unit(match.group(2))
            return now - count * UNIT_LENGTHS[unit], now
        if name == "this":
            return _this(match["u"].lower(), now), now
        if name == "month":
            return _month(match["m"], match["y"], now)
        if name == "year":
            year = int(match["y"])
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        if name == "point":
            moment, granularity = _point(match["a"], now)
            return moment, _ceil(moment, granularity)
    raise PeriodError(
        f"cannot read '{text}' as a period; try e.g. 'last 24 hours', 'yesterday', "
        "'since 3 pm CET', 'on 2 March', 'between 2024-03-01 and 2024-03-03' or "
        "'in March 2024'"
    )


def _point(text: str, now: datetime) -> tuple[datetime, Granularity]:
    """One date or date-time, floored to its granularity."""
    text = text.strip()
    month = re.fullmatch(rf"({MONTH_RE})\.?(?:\s+(\d{{4}}))?", text, re.IGNORECASE)
    if month:
        return _month(month.group(1), month.group(2), now)[0], "month"

    moment = _iso(text)
    if moment is None:
        parsed = dateparser.parse(
            FRENCH_TIME.sub(lambda m: f"{m[1]}:{m[2] or '00'}", _strip_article(text)),
            languages=LANGUAGES,
            settings={
                "RELATIVE_BASE": now.replace(tzinfo=None),
                "TIMEZONE": "UTC",
                "TO_TIMEZONE": "UTC",
                "RETURN_AS_TIMEZONE_AWARE": True,
                "PREFER_DATES_FROM": "past",
                "PREFER_DAY_OF_MONTH": "first",
            },
        )
        if parsed is None:
            raise PeriodError(f"cannot read '{text}' as a date or time")
        moment = parsed.astimezone(UTC)

    if HAS_TIME.search(text):
        return moment, "instant"
    return moment.replace(hour=0, minute=0, second=0, microsecond=0), "day"


def _iso(text: str) -> datetime | None:
    if not re.fullmatch(ISO_RE, text, re.IGNORECASE):
        return None
    try:
        value = datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError as exc:
        raise PeriodError(f"'{text}' is not a valid ISO 8601 date: {exc}") from None
    # a date without a zone is read as UTC, as everywhere in the service
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ceil(moment: datetime, granularity: Granularity) -> datetime:
    """The end of the period that starts at ``moment`` with this granularity."""
    if granularity == "instant":
        return moment + INSTANT_WINDOW
    if granularity == "day":
        return moment + timedelta(days=1)
    if granularity == "month":
        return _next_month(moment)
    return moment.replace(year=moment.year + 1)


def _month(name: str, year: str | None, now: datetime) -> tuple[datetime, datetime]:
    number = month_number(name)
    if year is not None:
        first = datetime(int(year), number, 1, tzinfo=UTC)
    else:
        # the most recent such month that has begun
        first = datetime(now.year, number, 1, tzinfo=UTC)
        if first > now:
            first = first.replace(year=now.year - 1)
    return first, _next_month(first)


def _next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1, day=1)
    return moment.replace(month=moment.month + 1, day=1)


def _this(unit: str, now: datetime) -> datetime:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    unit = UNIT_ALIASES.get(unit, unit)
    if unit == "week":
        return midnight - timedelta(days=midnight.weekday())
    if unit == "month":
        return midnight.replace(day=1)
    if unit == "year":
        return midnight.replace(month=1, day=1)
    return midnight  # this morning


def _count(word: str | None) -> int:
    if word is None:
        return 1
    word = word.lower()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _unit(word: str) -> str:
    word = word.lower()
    return UNIT_ALIASES.get(word, word)


def _strip_article(text: str) -> str:
    """French words dateparser does not need: "le 2 mars" -> "2 mars", "1er" -> "1"."""
    text = re.sub(r"^(?:le|la|l')\s*", "", text)
    text = re.sub(r"\b(\d{1,2})er\b", r"\1", text)
    text = re.sub(r"\s+a\s+(?=\d)", " ", text)  # "2 mars a 14:00"
    return re.sub(
        r"\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+dernier\b", r"\1", text
    )
