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
from functools import lru_cache

from rapidfuzz import fuzz

from agent.catalog import CatalogEntry
from agent.lexicon import (
    ANOMALY_WORDS,
    CHANNEL_WORDS,
    END_WORDS,
    GLOSSARY,
    INTENT_WORDS,
    KIND_WORDS,
    PRIORITY,
    PRONOUNS,
    SATELLITE_WORDS,
    SEVERITY_WORDS,
    STOPWORDS,
    fold,
    language,
)
from agent.periods import find_event_phrase, find_period_phrase

#: Below this score a question has no intent of its own (a follow-up, or unanswerable).
MIN_INTENT_SCORE = 1.5
_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|same for|also|et|aussi|pareil pour|meme chose pour)\b",
    re.IGNORECASE,
)
_ID_RE = re.compile(
    r"(?:\banomal(?:y|ies|ie|ies)\s*(?:id\s*)?(?:n[o°]\s*)?#?|#|\bid\s*)"
    r"(\d+(?:\s*(?:,|and|et|&)\s*#?\d+)*)",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
#: A channel-name word matched by the question's word for the measured quantity (the
#: last word of a name such as ``bus_voltage``) counts this much more than other words,
#: so "battery voltage" is a voltage, not the battery current.
QUANTITY_BONUS = 1.5


@dataclass
class Reading:
    """What a question asks and about what."""

    intent: str | None
    scores: dict[str, float]
    anomaly_ids: list[int] = field(default_factory=list)
    satellite: str | None = None
    channels: list[CatalogEntry] = field(default_factory=list)
    period_phrase: str | None = None
    event_kind: str | None = None
    kind: str | None = None
    min_severity: str | None = None
    asks_end: bool = False
    pronoun: bool = False
    follow_up: bool = False
    unknown_words: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    question: str = ""
    #: "fr" or "en" as the question's words tell, None when they do not (e.g. "SAT-1?")
    lang: str | None = None

    @property
    def has_slots(self) -> bool:
        """Whether the question names anything (ids, names, a period)."""
        return bool(
            self.anomaly_ids
            or self.satellite
            or self.channels
            or self.period_phrase
            or self.event_kind
        )


def read(question: str, entries: Sequence[CatalogEntry], satellites: Sequence[str]) -> Reading:
    """Intent and slots of ``question``, names matched against the tenant's catalogue."""
    text = question.strip()
    event = find_event_phrase(text)
    rest = text.replace(event[1], " ") if event else text
    period_phrase = None if event else find_period_phrase(rest)
    rest = rest.replace(period_phrase, " ") if period_phrase else rest
    ids = _anomaly_ids(rest)
    rest = _ID_RE.sub(" ", rest)
    satellite, rest = _match_satellite(rest, satellites)
    rest = fold(rest)
    words = _WORD_RE.findall(rest.replace("'", " "))
    kind = _phrase_choice(rest, KIND_WORDS)
    scores = _scores(words, ids, kind is not None)

    pool = [e for e in entries if satellite is None or e.satellite == satellite]
    content = [GLOSSARY.get(w, w) for w in words if _is_content(w)]
    channels, used = _match_channels(content, pool)
    return Reading(
        intent=_best(scores),
        scores=scores,
        anomaly_ids=ids,
        satellite=satellite,
        channels=channels,
        period_phrase=period_phrase,
        event_kind=event[0] if event else None,
        kind=kind,
        min_severity=_phrase_choice(rest, SEVERITY_WORDS),
        asks_end=bool(END_WORDS & set(words)),
        pronoun=bool(PRONOUNS & set(words)),
        follow_up=bool(_FOLLOW_UP.match(fold(text))),
        unknown_words=[w for w in content if w not in used and not _is_known_word(w)],
        words=words,
        question=text,
        lang=language(_WORD_RE.findall(fold(text).replace("'", " "))),
    )


def _anomaly_ids(text: str) -> list[int]:
    ids: list[int] = []
    for match in _ID_RE.finditer(text):
        for number in re.findall(r"\d+", match.group(1)):
            if int(number) not in ids:
                ids.append(int(number))
    return ids


#: Words that make "which channels were ..." ask for channels with anomalies (folded).
AFFECTED_WORDS = frozenset(
    "affected impacted involved touches affectes concernes impactes impliques".split()
)


def _scores(words: list[str], ids: list[int], names_kind: bool) -> dict[str, float]:
    present = set(words)
    scores = {
        intent: sum(weight for word, weight in table.items() if word in present)
        for intent, table in INTENT_WORDS.items()
    }
    if names_kind:
        scores["list_anomalies"] += 2.0  # "level shifts on the wheel": a kind of anomaly
    mentions_anomalies = bool(ANOMALY_WORDS & present) or bool(ids) or names_kind
    mentions_channels = bool(CHANNEL_WORDS & present)
    mentions_satellites = bool(SATELLITE_WORDS & present)
    if not {"when", "quand"} & present:
        scores["last_time"] = 0.0
    if not {"most", "least", "top", "worst", "busiest", "noisiest"} & present and not (
        {"plus", "moins"} & present and (mentions_anomalies or mentions_channels)
    ):
        scores["ranking"] = 0.0  # "plus" alone is not a ranking
    elif mentions_channels or mentions_satellites:
        scores["ranking"] += 1.0
    if scores["count"] and not mentions_anomalies:
        scores["count"] = 0.0 if "how" not in present and "combien" not in present else 1.0
    if not ids:
        scores["get_anomaly"] = 0.0
    else:
        scores["get_anomaly"] += 2.0
    if mentions_channels and mentions_anomalies and not ids:
        scores["affected_channels"] += 2.5  # "which channels had anomalies"
    if mentions_anomalies:
        scores["list_channels"] = 0.0
        scores["state"] = min(scores["state"], 1.0)
    if mentions_channels and not mentions_anomalies:
        scores["affected_channels"] = min(scores["affected_channels"], 0.0) + (
            3.0 if AFFECTED_WORDS & present else 0.0
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
    if word in GLOSSARY:
        return True
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


@lru_cache(maxsize=65_536)
def _token_match(word: str, token: str) -> bool:
    if word == token or word.rstrip("s") == token:
        return True
    if len(word) >= 3 and token.startswith(word):
        return True  # "temp" -> "temperature"
    return len(word) >= 4 and len(token) >= 4 and fuzz.ratio(word, token) >= 85


@lru_cache(maxsize=16_384)
def _entry_tokens(
    channel: str, description: str | None
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """A channel's name words, description words and compact name (from the text: cached)."""
    name_tokens = tuple(t for t in re.split(r"[^a-z0-9]+", channel.lower()) if t)
    desc_tokens = tuple(
        t
        for t in re.findall(r"[a-z0-9]+", (description or "").lower())
        if len(t) >= 3 and t not in STOPWORDS
    )
    return name_tokens, desc_tokens, _compact(channel)


def _match_channels(
    words: list[str], pool: Sequence[CatalogEntry]
) -> tuple[list[CatalogEntry], set[str]]:
    """The best-matching channels (ties all kept) and the words that matched them."""
    compact_text = _compact("".join(words))
    words = words + [p for w in words if "_" in w for p in w.split("_") if len(p) >= 3]
    scored: list[tuple[float, CatalogEntry, set[str]]] = []
    for entry in pool:
        name_tokens, desc_tokens, compact_name = _entry_tokens(entry.channel, entry.description)
        used: set[str] = set()
        score = 0.0
        matched_names = {t for t in name_tokens for w in words if _token_match(w, t)}
        used |= {w for w in words for t in name_tokens if _token_match(w, t)}
        score += 2.0 * len(matched_names)
        if len(name_tokens) > 1 and name_tokens[-1] in matched_names:
            score += QUANTITY_BONUS
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
        elif len(compact_name) >= 4 and compact_name in compact_text:
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
