"""The agent's tools, shared by the offline planner and an LLM agent.

Each tool is a plain typed function taking a :class:`~agent.context.ToolContext`
first and returning JSON-ready data (dates as ISO 8601 UTC strings with ``Z``).
``TOOLS`` maps each tool's name to its function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.plots import plot
from agent.tools_detect import detect
from agent.tools_events import find_events
from agent.tools_explain import explain
from agent.tools_lookup import (
    channel_summary,
    get_anomaly,
    list_anomalies,
    list_channels,
    resolve_period,
)
from agent.tools_models import channel_model, forecast
from agent.tools_state import satellite_state

TOOLS: dict[str, Callable[..., Any]] = {
    tool.__name__: tool
    for tool in (
        resolve_period,
        list_anomalies,
        get_anomaly,
        list_channels,
        channel_summary,
        detect,
        explain,
        find_events,
        satellite_state,
        plot,
        channel_model,
        forecast,
    )
}

__all__ = [
    "TOOLS",
    "channel_model",
    "channel_summary",
    "detect",
    "explain",
    "find_events",
    "forecast",
    "get_anomaly",
    "list_anomalies",
    "list_channels",
    "plot",
    "resolve_period",
    "satellite_state",
]
