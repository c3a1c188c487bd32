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

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-eight": 48,
    "twenty-four": 24,
    "few": 3,
}
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_RE = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY_RE = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ZONE_RE = (
    r"(?:\s*(?:utc|gmt|z|cet|cest|eet|eest|wet|west|bst|est|edt|cst|cdt|pst|pdt|jst"
    r"|[+-]\d{2}:?\d{2}))?"
)
_ISO_RE = r"\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"
_TIME_RE = r"(?:\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?|noon|midnight)"
_TIME_RE += _ZONE_RE
_DATE_RE = (
    rf"(?:{_ISO_RE}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}\.?(?:,?\s+\d{{4}})?"
    rf"|{_MONTH_RE}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|(?:last\s+)?{_WEEKDAY_RE}|today|yesterday|\d+\s+days?\s+ago)"
)
_POINT_RE = (
    rf"(?:{_DATE_RE}(?:,?\s+(?:at\s+)?{_TIME_RE})?"
    rf"|{_TIME_RE}(?:,?\s+(?:on\s+)?{_DATE_RE})?)"
)
_UNIT_RE = r"(minute|min|hour|hr|day|week|month|year)s?"
_COUNT_RE = r"(\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_LAST_RE = (
    r"(?:in\s+|during\s+|over\s+|for\s+)?(?:the\s+)?(?:last|past|previous)\s+"
    rf"(?:{_COUNT_RE}\s+)?{_UNIT_RE}"
)

_PATTERNS: tuple[tuple[str, str], ...] = (
    ("between", rf"\bbetween\s+(?P<a>{_POINT_RE})\s+and\s+(?P<b>{_POINT_RE})"),
    ("between", rf"\bfrom\s+(?P<a>{_POINT_RE})\s+(?:to|until|till|through)\s+(?P<b>{_POINT_RE})"),
    ("since", rf"\b(?:since|after)\s+(?P<a>{_POINT_RE}|{_MONTH_RE}(?:\s+\d{{4}})?)"),
    ("last", rf"\b{_LAST_RE}\b"),
    ("this", r"\bthis\s+(?P<u>week|month|year|morning)\b"),
    ("month", rf"\b(?:in|during)\s+(?P<m>{_MONTH_RE})(?:\s+(?P<y>\d{{4}}))?\b"),
    ("month", rf"\b(?P<m>{_MONTH_RE})\s+(?P<y>\d{{4}})\b"),
    ("year", r"\b(?:in|during)\s+(?P<y>\d{4})\b"),
    ("point", rf"(?:\b(?:on|at)\s+)?(?P<a>{_POINT_RE})"),
)
_COMPILED = tuple((name, re.compile(rx, re.IGNORECASE)) for name, rx in _PATTERNS)
_HAS_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d\s*[ap]\.?m\b|\bnoon\b|\bmidnight\b|\bhours?\b|\bminutes?\b"
    r"|\bmins?\b|\bseconds?\b|\bnow\b|\d[t ]\d{2}:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Period:
    """A resolved period: UTC bounds and the words it was read from."""

    start: datetime
    end: datetime
    label: str


def find_period_phrase(text: str) -> str | None:
    """The first time expression in ``text`` (as written there), or None."""
    best: tuple[int, int, str] | None = None
    for _name, pattern in _COMPILED:
        match = pattern.search(text)
        if match is None:
            continue
        # earliest match wins; at the same position the longer one (more specific) wins
        key = (match.start(), -(match.end() - match.start()))
        if best is None or key < best[:2]:
            best = (key[0], key[1], match.group(0))
    return None if best is None else best[2].strip()


def resolve(phrase: str, now: datetime) -> Period:
    """Turn a time expression into a UTC period relative to ``now`` (timezone-aware).

    Raises:
        PeriodError: the expression is not understood, or its start is after its end.
    """
    text = " ".join(phrase.strip().rstrip("?!.,;").split())
    if not text:
        raise PeriodError("empty time expression: give a period such as 'last week'")
    now = now.astimezone(UTC)

    start, end = _resolve(text, now)
    if start <= now < end:
        end = now  # a period that is still running ("today", "this month") ends now

    if start > end:
        raise PeriodError(f"the period '{text}' starts after it ends; swap its bounds")
    return Period(start=start, end=end, label=text)


def _resolve(text: str, now: datetime) -> tuple[datetime, datetime]:
    for name, pattern in _COMPILED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if name == "between":
            start, _ = _point(match["a"], now)
            end = _ceil(*_point(match["b"], now))
            return start, end
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
    month = re.fullmatch(rf"({_MONTH_RE})\.?(?:\s+(\d{{4}}))?", text, re.IGNORECASE)
    if month:
        return _month(month.group(1), month.group(2), now)[0], "month"

    moment = _iso(text)
    if moment is None:
        parsed = dateparser.parse(
            text,
            languages=["en"],
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

    if _HAS_TIME.search(text):
        return moment, "instant"
    return moment.replace(hour=0, minute=0, second=0, microsecond=0), "day"


def _iso(text: str) -> datetime | None:
    if not re.fullmatch(_ISO_RE, text, re.IGNORECASE):
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
    number = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name.lower()[:3]))
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
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _unit(word: str) -> str:
    word = word.lower()
    return {"min": "minute", "hr": "hour"}.get(word, word)
