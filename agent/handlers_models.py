"""Question handlers for channel models ("how is X configured?", "when was it last
trained?") and forecasts ("when will the bus voltage fall below 27 V at this rate?")."""

from __future__ import annotations

import re
from typing import Any

from agent import compose
from agent.toolbox import Run
from agent.understanding import Reading

#: Horizon of forecasts asked in questions without one.
DEFAULT_HORIZON = "30d"
_THRESHOLD = re.compile(
    r"\b(below|under|beneath|above|over|exceeds?|reach(?:es)?|drops? to|falls? to|"
    r"sous|dessous|au-dessus|depasse|atteint)\s+(-?\d+(?:[.,]\d+)?)",
    re.IGNORECASE,
)
_BELOW = ("below", "under", "beneath", "drop", "fall", "sous", "dessous")
_ABOVE = ("above", "over", "exceed", "depasse", "au-dessus")


def model_info(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """The active model of each named channel: version, training range, parameters."""
    targets = _channels(reading, state)
    if not targets:
        return "Which channel do you mean? Ask 'list channels' to see their names."
    lines = []
    for satellite, channel in targets[:3]:
        result = run.call("channel_model", channel=channel, satellite=satellite)
        name = f"{result['satellite']}/{result['channel']}"
        if not result["trained"]:
            d = result["defaults"]
            m = d["m"] if d["m"] is not None else "the dominant period of its warm-up data"
            lines.append(
                f"{name} has no trained model yet: it is detected with the defaults "
                f"(window {d['window']} points, subsequence length m = {m}). Run "
                "`imon train` to learn one."
            )
            continue
        p, q = result["params"], result["quality"]
        normal = p["normal_range"]
        unit = f" {result['unit']}" if result["unit"] else ""
        period = f"{p['period']} points" if p["period"] else "none found"
        coverage = q.get("forecast_coverage")
        lines.append(
            f"{name} uses model version {result['version']}, trained at "
            f"{result['created_at']} on data from {result['training_start']} to "
            f"{result['training_end']} ({q['points']} points). Dominant period: {period}; "
            f"window {p['window']} points, m = {p['m']}; normal range "
            f"{compose.number(normal['low'])} to {compose.number(normal['high'])}{unit}; "
            f"thresholds: matrix profile z {p['thresholds']['mp_threshold']}, value z "
            f"{p['thresholds']['spike_threshold']}."
            + (
                f" Forecast interval coverage on held-back training data: {coverage:.0%}."
                if coverage is not None
                else ""
            )
        )
        lines.append(_reference_line(result["reference"]))
        if result["limits"]:
            lim = result["limits"]
            lines.append(
                f"Limits ({lim['source']}): low {compose.number(lim['low'])}, high "
                f"{compose.number(lim['high'])}{unit}."
            )
    return "\n".join(lines)


def _reference_line(reference: dict[str, Any] | None) -> str:
    """What the channel's new data is compared with: its reference, or the recent window."""
    if not reference:
        return (
            "Reference: none; new data is judged against the channel's recent window only. "
            "Train it on a normal period (`imon train --reference-start ... --reference-end "
            "...`) to give it one."
        )
    origin = (
        "a period an operator vouched for as normal"
        if reference["vouched"]
        else "its training history (not vouched for as normal)"
    )
    excluded = len(reference.get("excluded") or [])
    left_out = f", leaving out {excluded} stretches covered by anomalies" if excluded else ""
    return (
        f"Reference: {reference['points']} points from {reference['start']} to "
        f"{reference['end']}, {origin}{left_out}; each new window is compared with it."
    )


def forecast_crossing(run: Run, reading: Reading, state: dict[str, Any]) -> str:
    """When a channel will cross a threshold (or its limits), as a range from the forecast."""
    targets = _channels(reading, state)
    if not targets:
        return "Which channel should I forecast? Ask 'list channels' to see their names."
    satellite, channel = targets[0]
    threshold, direction = _threshold(reading.question)
    result = run.call(
        "forecast",
        channel=channel,
        satellite=satellite,
        horizon=DEFAULT_HORIZON,
        threshold=threshold,
        direction=direction,
    )
    name = f"{result['satellite']}/{result['channel']}"
    unit = f" {result['unit']}" if result["unit"] else ""
    head = (
        f"Forecast of {name} ({result['method']}, {result['level']:.0%} interval) from its "
        f"last point at {result['last_ts']} ({compose.number(result['last_value'])}{unit}) "
        f"to {result['horizon_end']}"
        + (
            " (the stored history is shorter than the asked horizon)"
            if result["horizon_capped"]
            else ""
        )
        + "."
    )
    if not result["crossings"]:
        return head + (
            " No threshold was named and the channel has no limits, so I cannot say when "
            "it crosses one."
        )
    lines = [head]
    for c in result["crossings"]:
        what = f"{c['direction']} {compose.number(c['threshold'])}{unit} ({c['why']})"
        if c["earliest"] is None:
            lines.append(
                f"The data do not support a crossing {what} before {result['horizon_end']}: "
                "even the interval's bound stays on this side."
            )
        elif c["expected"] is None:
            lines.append(
                f"It could go {what} as early as {c['earliest']}, but at this rate the "
                f"expected value stays on this side until {result['horizon_end']}."
            )
        else:
            latest = (
                f"and by {c['latest']} at the latest"
                if c["latest"]
                else f"while the interval still allows it not to by {result['horizon_end']}"
            )
            lines.append(
                f"At this rate it goes {what} between {c['earliest']} and "
                f"{c['latest'] or result['horizon_end']}: expected at {c['expected']}, "
                f"as early as {c['earliest']} {latest}."
            )
    return "\n".join(lines)


def _channels(reading: Reading, state: dict[str, Any]) -> list[tuple[str, str]]:
    """(satellite, channel) pairs named, else those of the conversation ("it")."""
    if reading.channels:
        return [(e.satellite, e.channel) for e in reading.channels]
    return [(str(s), str(c)) for s, c in state.get("channels", [])]


def _threshold(question: str) -> tuple[float | None, str | None]:
    match = _THRESHOLD.search(question)
    if match is None:
        return None, None
    word = match.group(1).lower()
    value = float(match.group(2).replace(",", "."))
    if word.startswith(_BELOW):
        return value, "below"
    if word.startswith(_ABOVE):
        return value, "above"
    return value, None
