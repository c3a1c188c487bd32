"""Operator documents split into passages for the knowledge index."""

from __future__ import annotations

import re
from pathlib import Path

#: Passages grow paragraph by paragraph to about this many characters...
PASSAGE_TARGET = 700
#: ...and are cut at sentence ends when a paragraph alone is longer than this.
PASSAGE_MAX = 1000
SUFFIXES = (".md", ".markdown", ".txt", ".rst")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class KnowledgeFileError(ValueError):
    """A document cannot be read as text."""


def read_document(path: Path) -> str:
    """The text of a Markdown or plain-text file, or `KnowledgeFileError`."""
    if not path.is_file():
        raise KnowledgeFileError(f"{path}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise KnowledgeFileError(
            f"{path}: unsupported extension {path.suffix!r}; use {', '.join(SUFFIXES)}"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise KnowledgeFileError(f"{path}: not UTF-8 text ({error.reason})") from None


def split_passages(text: str) -> list[tuple[str, str]]:
    """(heading, passage) pairs: paragraphs under each heading, joined to ~700 characters."""
    passages: list[tuple[str, str]] = []
    heading, paragraphs = "", list[str]()
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = []
        for line in block.strip().splitlines():
            found = _HEADING.match(line.strip())
            if found:
                passages += _join(heading, paragraphs)
                heading, paragraphs = found.group(2).strip(), []
            elif line.strip():
                lines.append(line.strip())
        if lines:
            paragraphs.append(" ".join(lines))
    passages += _join(heading, paragraphs)
    return passages


def _join(heading: str, paragraphs: list[str]) -> list[tuple[str, str]]:
    pieces = [piece for p in paragraphs for piece in _cut(p)]
    joined: list[tuple[str, str]] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > PASSAGE_MAX:
            joined.append((heading, current))
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
        if len(current) >= PASSAGE_TARGET:
            joined.append((heading, current))
            current = ""
    if current:
        joined.append((heading, current))
    return joined


def _cut(paragraph: str) -> list[str]:
    if len(paragraph) <= PASSAGE_MAX:
        return [paragraph]
    out, current = [], ""
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > PASSAGE_MAX:  # one endless sentence: cut at a space
            cut = sentence.rfind(" ", 0, PASSAGE_MAX)
            cut = cut if cut > 0 else PASSAGE_MAX
            out.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > PASSAGE_MAX:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        out.append(current)
    return out
