"""Channel names for KairosDB series: the metric name plus its non-satellite tags.

A KairosDB series is a metric name and a tag set. In our store the satellite is its own
record, so the satellite tag is left out of the channel name and the other tags follow
the metric in a stable, readable form::

    SCH.M1                          metric only
    SCH.M1{mode=safe,unit=V}        tags sorted by key
    SCH.M1{label="a,b"}             values with , = { } " or edge spaces are JSON-quoted

:func:`parse_channel_name` is the inverse, so a stored channel can be matched by a
KairosDB query; a name that does not parse is a metric without tags.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

SPECIAL = set(',={}"\\')


def _quote(text: str) -> str:
    if not text or text != text.strip() or any(c in SPECIAL for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def channel_name(metric: str, tags: Mapping[str, str], satellite_tag: str = "satellite") -> str:
    """The channel of `metric` with `tags`, without the satellite tag."""
    rest = sorted((k, v) for k, v in tags.items() if k != satellite_tag)
    if not rest:
        return metric
    return metric + "{" + ",".join(f"{_quote(k)}={_quote(v)}" for k, v in rest) + "}"


def _read_token(text: str, position: int, stops: str) -> tuple[str, int]:
    if position < len(text) and text[position] == '"':
        decoder = json.JSONDecoder()
        value, end = decoder.raw_decode(text, position)
        if not isinstance(value, str):
            raise ValueError("quoted token is not a string")
        return value, end
    end = position
    while end < len(text) and text[end] not in stops:
        if text[end] in SPECIAL:
            raise ValueError(f"unexpected {text[end]!r}")
        end += 1
    if end == position:
        raise ValueError("empty token")
    return text[position:end], end


def _parse_tags(body: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    position = 0
    while position < len(body):
        key, position = _read_token(body, position, "=")
        if position >= len(body) or body[position] != "=":
            raise ValueError("expected '='")
        value, position = _read_token(body, position + 1, ",")
        tags[key] = value
        if position < len(body):
            if body[position] != ",":
                raise ValueError("expected ','")
            position += 1
    return tags


def parse_channel_name(name: str) -> tuple[str, dict[str, str]]:
    """The metric and tags of a channel name made by :func:`channel_name`."""
    brace = name.find("{")
    if brace <= 0 or not name.endswith("}"):
        return name, {}
    try:
        tags = _parse_tags(name[brace + 1 : -1])
    except ValueError:
        return name, {}
    return (name[:brace], tags) if tags else (name, {})
