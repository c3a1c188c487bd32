"""Reading a question: its intent (by keyword scores) and its slots.

Slots are anomaly ids, a satellite and channels (fuzzy-matched with rapidfuzz against
the store's names, the words of channel names and of their descriptions), the time
expression (left to the ``resolve_period`` tool to resolve), an anomaly kind and a
minimum severity. Nothing here touches the store: the names are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from agent.catalog import CatalogEntry
from agent.periods import find_period_phrase

#: Keyword weights per intent; a question's intent is the best-scoring one.
INTENT_WORDS: dict[str, dict[str, float]] = {
    "explain": {
        "why": 3,
        "explain": 3,
        "explanation": 3,
        "explanations": 3,
        "cause": 3,
        "caused": 3,
        "causes": 3,
        "reason": 3,
        "reasons": 3,
        "root": 1,
    },
    "last_time": {
        "when": 3,
        "last": 1,
        "latest": 1,
        "recent": 1,
        "start": 0.5,
        "started": 0.5,
        "begin": 0.5,
        "began": 0.5,
        "end": 0.5,
        "ended": 0.5,
        "stop": 0.5,
        "stopped": 0.5,
        "finish": 0.5,
        "finished": 0.5,
        "time": 0.5,
    },
    "affected_channels": {
        "affected": 3,
        "impacted": 3,
        "involved": 2,
        "hit": 1,
        "channels": 1,
        "channel": 0.5,
    },
    "list_channels": {
        "channels": 2,
        "channel": 1,
        "list": 1,
        "available": 1,
        "measure": 1,
        "measured": 1,
        "monitor": 1,
        "monitored": 1,
        "telemetry": 0.5,
        "sensors": 1,
    },
    "list_anomalies": {
        "anomalies": 2,
        "anomaly": 2,
        "anomalous": 2,
        "alerts": 2,
        "alert": 2,
        "alarms": 2,
        "alarm": 2,
        "issues": 1.5,
        "problems": 1.5,
        "faults": 1.5,
        "glitches": 1.5,
        "incidents": 1.5,
        "events": 1,
        "spikes": 1.5,
        "happened": 1.5,
        "occurred": 1.5,
        "wrong": 1.5,
        "unusual": 1,
        "any": 0.5,
    },
    "get_anomaly": {
        "details": 2,
        "detail": 2,
        "describe": 2,
        "about": 1,
        "info": 2,
        "information": 2,
        "show": 1,
    },
    "summary": {
        "summary": 3,
        "summarise": 3,
        "summarize": 3,
        "stats": 3,
        "statistics": 3,
        "min": 2,
        "minimum": 2,
        "max": 2,
        "maximum": 2,
        "mean": 2,
        "average": 2,
        "values": 1,
        "value": 1,
        "range": 1,
        "points": 1,
    },
    "detect": {
        "detect": 4,
        "detection": 2.5,
        "scan": 4,
        "rerun": 1,
        "run": 1,
        "analyse": 2,
        "analyze": 2,
    },
}
#: On equal scores the intent listed first wins.
PRIORITY = (
    "explain",
    "last_time",
    "detect",
    "get_anomaly",
    "affected_channels",
    "summary",
    "list_anomalies",
    "list_channels",
)
#: Below this score a question has no intent of its own (a follow-up, or unanswerable).
MIN_INTENT_SCORE = 1.5
ANOMALY_WORDS = frozenset(
    w for w, weight in INTENT_WORDS["list_anomalies"].items() if weight >= 1.5
)

KIND_WORDS = {
    "spike": ("spike", "spikes"),
    "level_shift": ("level shift", "level shifts", "shift", "shifts", "jump", "jumps"),
    "variance_change": ("variance", "noisy"),
    "trend_change": ("trend", "drift", "drifts"),
    "flatline": ("flatline", "flatlines", "flat", "stuck", "frozen"),
    "gap": ("gap", "gaps", "outage", "outages"),
    "pattern": ("pattern", "patterns", "discord", "discords"),
}
SEVERITY_WORDS = {
    "critical": ("critical",),
    "high": ("high severity", "severe", "serious", "major", "high"),
    "medium": ("medium",),
}
STOPWORDS = frozenset(
    """a an the and or of on in at to for from by with about is are was were be been did
    do does has have had it its this that these those there what which who whom whose
    where how any all some me my our us we you your i please can could would should will
    tell give show list get find see happen happened happening occur occurred go going
    went anything something there here now then than since between during until till
    today yesterday last past previous next ago hour hours day days week weeks month
    months year years minute minutes time times same other also just only still ever
    again more most many much very up down out over under new old first second
    satellite satellites sat sats channel channels sensor sensors data telemetry
    ongoing open else case why when like into let know need want look looks whether
    not no yes both each every been being okay ok hello hi thanks thank""".split()
)
_PRONOUNS = frozenset({"it", "this", "that", "its"})
_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|also)\b", re.IGNORECASE)
_ID_RE = re.compile(
    r"(?:\banomal(?:y|ies)\s*(?:id\s*)?#?|#|\bid\s*)(\d+(?:\s*(?:,|and|&)\s*#?\d+)*)",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


@dataclass
class Reading:
    """What a question asks and about what."""

    intent: str | None
    scores: dict[str, float]
    anomaly_ids: list[int] = field(default_factory=list)
    satellite: str | None = None
    channels: list[CatalogEntry] = field(default_factory=list)
    period_phrase: str | None = None
    kind: str | None = None
    min_severity: str | None = None
    asks_end: bool = False
    pronoun: bool = False
    follow_up: bool = False
    unknown_words: list[str] = field(default_factory=list)

    @property
    def has_slots(self) -> bool:
        """Whether the question names anything (ids, names, a period)."""
        return bool(self.anomaly_ids or self.satellite or self.channels or self.period_phrase)


def read(question: str, entries: Sequence[CatalogEntry], satellites: Sequence[str]) -> Reading:
    """Intent and slots of ``question``, names matched against the tenant's catalogue."""
    text = question.strip()
    period_phrase = find_period_phrase(text)
    rest = text.replace(period_phrase, " ") if period_phrase else text
    ids = _anomaly_ids(rest)
    rest = _ID_RE.sub(" ", rest)
    satellite, rest = _match_satellite(rest, satellites)
    words = _WORD_RE.findall(rest.lower())
    scores = _scores(words, ids)

    pool = [e for e in entries if satellite is None or e.satellite == satellite]
    content = [w for w in words if _is_content(w)]
    channels, used = _match_channels(content, pool)
    return Reading(
        intent=_best(scores),
        scores=scores,
        anomaly_ids=ids,
        satellite=satellite,
        channels=channels,
        period_phrase=period_phrase,
        kind=_phrase_choice(rest.lower(), KIND_WORDS),
        min_severity=_phrase_choice(rest.lower(), SEVERITY_WORDS),
        asks_end=bool({"end", "ended", "stop", "stopped", "finish", "finished"} & set(words)),
        pronoun=bool(_PRONOUNS & set(words)),
        follow_up=bool(_FOLLOW_UP.match(text)),
        unknown_words=[w for w in content if w not in used and not _is_known_word(w)],
    )


def _anomaly_ids(text: str) -> list[int]:
    ids: list[int] = []
    for match in _ID_RE.finditer(text):
        for number in re.findall(r"\d+", match.group(1)):
            if int(number) not in ids:
                ids.append(int(number))
    return ids


def _scores(words: list[str], ids: list[int]) -> dict[str, float]:
    present = set(words)
    scores = {
        intent: sum(weight for word, weight in table.items() if word in present)
        for intent, table in INTENT_WORDS.items()
    }
    mentions_anomalies = bool(ANOMALY_WORDS & present) or bool(ids)
    mentions_channels = bool({"channels", "channel"} & present)
    if "when" not in present:
        scores["last_time"] = 0.0
    if not ids:
        scores["get_anomaly"] = 0.0
    else:
        scores["get_anomaly"] += 2.0
    if mentions_channels and mentions_anomalies and not ids:
        scores["affected_channels"] += 2.5  # "which channels had anomalies"
    if mentions_anomalies:
        scores["list_channels"] = 0.0
    if mentions_channels and not mentions_anomalies:
        scores["affected_channels"] = min(scores["affected_channels"], 0.0) + (
            3.0 if {"affected", "impacted", "involved"} & present else 0.0
        )
    return scores


def _best(scores: dict[str, float]) -> str | None:
    top = max(scores.values())
    if top < MIN_INTENT_SCORE:
        return None
    return next(intent for intent in PRIORITY if scores[intent] == top)


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _match_satellite(text: str, satellites: Sequence[str]) -> tuple[str | None, str]:
    """The satellite named in ``text`` (fuzzy, digits must agree) and the text without it."""
    tokens = re.findall(r"[A-Za-z0-9]+(?:[-_./][A-Za-z0-9]+)*", text)
    best: tuple[float, str, str] | None = None
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            gram = " ".join(tokens[i : i + size])
            compact = _compact(gram)
            if len(compact) < 3:
                continue
            for name in satellites:
                target = _compact(name)
                if re.findall(r"\d+", compact) != re.findall(r"\d+", target):
                    continue
                score = 100.0 if compact == target else fuzz.ratio(compact, target)
                if score >= 88 and (best is None or score > best[0]):
                    best = (score, name, gram)
    if best is None:
        return None, text
    return best[1], text.replace(best[2], " ", 1)


def _is_content(word: str) -> bool:
    if word in STOPWORDS or word.isdigit():
        return False
    if any(word in table for table in INTENT_WORDS.values()):
        return False
    return len(word) >= 3


def _is_known_word(word: str) -> bool:
    """Words that carry meaning for the planner without naming a channel."""
    return any(
        word in words
        for table in (KIND_WORDS, SEVERITY_WORDS)
        for words in (" ".join(v) for v in table.values())
    ) or word in {"did", "does"}


def _token_match(word: str, token: str) -> bool:
    if word == token or word.rstrip("s") == token:
        return True
    if len(word) >= 3 and token.startswith(word):
        return True  # "temp" -> "temperature"
    return len(word) >= 4 and len(token) >= 4 and fuzz.ratio(word, token) >= 85


def _match_channels(
    words: list[str], pool: Sequence[CatalogEntry]
) -> tuple[list[CatalogEntry], set[str]]:
    """The best-matching channels (ties all kept) and the words that matched them."""
    compact_text = _compact("".join(words))
    words = words + [p for w in words if "_" in w for p in w.split("_") if len(p) >= 3]
    scored: list[tuple[float, CatalogEntry, set[str]]] = []
    for entry in pool:
        name_tokens = [t for t in re.split(r"[^a-z0-9]+", entry.channel.lower()) if t]
        desc_tokens = [
            t
            for t in re.findall(r"[a-z0-9]+", (entry.description or "").lower())
            if len(t) >= 3 and t not in STOPWORDS
        ]
        used: set[str] = set()
        score = 0.0
        matched_names = {t for t in name_tokens for w in words if _token_match(w, t)}
        used |= {w for w in words for t in name_tokens if _token_match(w, t)}
        score += 2.0 * len(matched_names)
        if name_tokens and len(matched_names) == len(set(name_tokens)):
            score += 1.0  # every word of the name was given
        matched_desc = {
            t
            for t in desc_tokens
            if t not in matched_names
            for w in words
            if w not in used and _token_match(w, t)
        }
        used |= {w for w in words for t in matched_desc if _token_match(w, t)}
        score += 1.0 * len(matched_desc)
        if entry.channel.lower() in words:
            score += 10.0  # the exact name as one word, however short, e.g. "D-2"
            used.add(entry.channel.lower())
        elif len(_compact(entry.channel)) >= 4 and _compact(entry.channel) in compact_text:
            score += 10.0  # the name itself, e.g. "bus_voltage"
        if score > 0:
            scored.append((score, entry, used))
    if not scored:
        return [], set()
    top = max(s for s, _, _ in scored)
    chosen = [(e, u) for s, e, u in scored if s == top]
    return [e for e, _ in chosen], set().union(*(u for _, u in chosen))


def _phrase_choice(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    for value, phrases in table.items():
        if any(re.search(rf"\b{re.escape(p)}\b", text) for p in phrases):
            return value
    return None
