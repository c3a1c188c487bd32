"""Regular expressions of time expressions, English and French, over folded text.

Questions are matched folded (lower case, no accents: see :func:`agent.lexicon.fold`),
so the French words here carry no accents ("fevrier", "derniere"). Resolution is in
:mod:`agent.periods`.
"""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "un": 1,
    "une": 1,
    "two": 2,
    "deux": 2,
    "three": 3,
    "trois": 3,
    "four": 4,
    "quatre": 4,
    "five": 5,
    "cinq": 5,
    "six": 6,
    "seven": 7,
    "sept": 7,
    "eight": 8,
    "huit": 8,
    "nine": 9,
    "neuf": 9,
    "ten": 10,
    "dix": 10,
    "twelve": 12,
    "douze": 12,
    "fifteen": 15,
    "quinze": 15,
    "twenty": 20,
    "vingt": 20,
    "thirty": 30,
    "trente": 30,
    "forty-eight": 48,
    "twenty-four": 24,
    "few": 3,
    "quelques": 3,
}
#: Month names, English then French (folded), in calendar order.
MONTHS_EN = (
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
MONTHS_FR = (
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
)
#: Units of "last <unit>" periods, French words mapped to the English ones.
UNIT_ALIASES = {
    "min": "minute",
    "hr": "hour",
    "heure": "hour",
    "jour": "day",
    "semaine": "week",
    "mois": "month",
    "annee": "year",
    "an": "year",
}

MONTH_RE = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mars|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|janvier|fevrier|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)\b"
)
WEEKDAY_RE = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
)
ZONE_RE = (
    r"(?:\s*(?:utc|gmt|z|cet|cest|eet|eest|wet|west|bst|est|edt|cst|cdt|pst|pdt|jst"
    r"|[+-]\d{2}:?\d{2}))?"
)
ISO_RE = r"\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"
#: "15 h", "15h30", "14 h 30" (French) are times too.
TIME_RE = (
    r"(?:\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?|noon|midnight"
    r"|midi|minuit|\d{1,2}\s?h(?:\s?\d{2})?\b)" + ZONE_RE
)
DAY_RE = r"\d{1,2}(?:st|nd|rd|th|er)?"
DATE_RE = (
    rf"(?<![\w-])(?:{ISO_RE}"
    rf"|(?:le\s+)?{DAY_RE}\s+(?:of\s+)?{MONTH_RE}\.?(?:,?\s+\d{{4}})?"
    rf"|{MONTH_RE}\.?\s+{DAY_RE}(?:,?\s+\d{{4}})?"
    rf"|(?:last\s+)?{WEEKDAY_RE}(?:\s+dernier)?|today|yesterday|aujourd'?\s?hui|avant-hier"
    rf"|hier|\d+\s+days?\s+ago|il\s+y\s+a\s+\d+\s+jours?)"
)
POINT_RE = (
    rf"(?<![\w-])(?:{DATE_RE}(?:,?\s+(?:at\s+|a\s+)?{TIME_RE})?"
    rf"|{TIME_RE}(?:,?\s+(?:on\s+|le\s+)?{DATE_RE})?)"
)
UNIT_RE = r"(minute|min|hour|hr|day|week|month|year|heure|jour|semaine|mois|annee|an)s?"
COUNT_RE = r"(\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
LAST_RE = (
    r"(?:in\s+|during\s+|over\s+|for\s+)?(?:the\s+)?(?:last|past|previous)\s+"
    rf"(?:{COUNT_RE}\s+)?{UNIT_RE}"
)
#: "les 3 derniers jours", "la derniere heure", "au cours des 24 dernieres heures".
LAST_FR_RE = (
    r"(?:(?:au\s+cours|pendant|durant|lors)\s+(?:de\s+|des\s+|du\s+)?)?"
    r"(?:les\s+|la\s+|le\s+|l'|ces\s+|cette\s+|ce\s+|des\s+)?"
    rf"(?:{COUNT_RE}\s+)?dernier(?:e|s|es)?\s+{UNIT_RE}"
)
#: "le mois dernier", "la semaine derniere", "l'annee derniere".
PREVIOUS_FR_RE = (
    rf"(?:pendant\s+|durant\s+|au\s+cours\s+de\s+)?(?:le\s+|la\s+|l'\s?|les\s+)?"
    rf"(?:{COUNT_RE}\s+)?{UNIT_RE}\s+dernier(?:e|s|es)?"
)

PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "dayrange",
        rf"\b(?:between|entre|from|du)\s+(?:the\s+|le\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?"
        rf"\s+(?:and|et|to|au|-)\s+(?:the\s+|le\s+)?(?P<b>{DAY_RE}\s+(?:of\s+)?{MONTH_RE}"
        rf"(?:\s+\d{{4}})?)",
    ),
    ("between", rf"\b(?:between|entre)\s+(?P<a>{POINT_RE})\s+(?:and|et)\s+(?P<b>{POINT_RE})"),
    (
        "between",
        rf"\b(?:from|du|de)\s+(?P<a>{POINT_RE})\s+(?:to|until|till|through|au|a|jusqu'?\s?a)"
        rf"\s+(?P<b>{POINT_RE})",
    ),
    (
        "since",
        rf"\b(?:since|after|depuis|apres)\s+(?:le\s+)?(?P<a>{POINT_RE}|{MONTH_RE}(?:\s+\d{{4}})?)",
    ),
    ("last", rf"\b{LAST_RE}\b"),
    ("last", rf"\b{LAST_FR_RE}\b"),
    ("last", rf"\b{PREVIOUS_FR_RE}\b"),
    (
        "this",
        r"\b(?:this|cette|ce|cet)\s+(?P<u>week|month|year|morning|semaine|mois|annee|matin)"
        r"(?:-ci)?\b",
    ),
    ("month", rf"\b(?:in|during|en|pendant|durant)\s+(?P<m>{MONTH_RE})(?:\s+(?P<y>\d{{4}}))?\b"),
    ("month", rf"\b(?P<m>{MONTH_RE})\s+(?P<y>\d{{4}})\b"),
    ("year", r"\b(?:in|during|en)\s+(?P<y>\d{4})\b"),
    ("point", rf"(?:\b(?:on|at|le|a)\s+)?(?P<a>{POINT_RE})"),
)
COMPILED = tuple((name, re.compile(rx, re.IGNORECASE)) for name, rx in PATTERNS)
HAS_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d\s*[ap]\.?m\b|\bnoon\b|\bmidnight\b|\bmidi\b|\bminuit\b|\bhours?\b"
    r"|\bminutes?\b|\bmins?\b|\bseconds?\b|\bnow\b|\d[t ]\d{2}:|\d\s?h\b|\d\s?h\s?\d{2}\b",
    re.IGNORECASE,
)
#: "15 h 30" -> "15:30", "15h" -> "15:00", for dateparser (which reads "15 h" as a duration).
FRENCH_TIME = re.compile(r"\b(\d{1,2})\s?h(?:\s?(\d{2}))?\b")
#: Last occurrence of a stored event kind, e.g. "during the last eclipse".
EVENT_PERIOD_RE = re.compile(
    r"\b(?:(?:during|in|over|pendant|durant|lors\s+de|au\s+cours\s+de)\s+)?"
    r"(?:the\s+|la\s+|l'\s?)?(?:last|latest|previous|most\s+recent|derniere|precedente)\s+"
    r"(?P<kind>eclipse)s?\b",
    re.IGNORECASE,
)


def month_number(name: str) -> int:
    """1..12 for an English or French (folded) month name or abbreviation."""
    name = name.lower().rstrip(".")
    for table in (MONTHS_FR, MONTHS_EN):
        for number, month in enumerate(table, 1):
            if month == name:
                return number
    return next(i for i, m in enumerate(MONTHS_EN, 1) if m.startswith(name[:3]))
