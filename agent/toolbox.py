"""The tools the offline planner calls, and the record of one question's calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.context import ToolContext
from agent.errors import AgentError
from agent.plots import plot
from agent.schema import Explanation, ToolCall
from agent.tools import TOOLS
from agent.tools_events import find_events
from agent.tools_state import satellite_state

#: The shared tools plus those only the planner uses so far.
PLANNER_TOOLS: dict[str, Callable[..., Any]] = {
    **TOOLS,
    "find_events": find_events,
    "satellite_state": satellite_state,
    "plot": plot,
}


#: The keys that make a dict in a tool result an anomaly (see ``anomaly_dict``).
_ANOMALY_KEYS = frozenset({"id", "satellite", "channel", "start", "end", "kind"})


class Run:
    """Calls tools for one question and records each call, its summary and result."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.calls: list[ToolCall] = []
        self.results: list[tuple[str, dict[str, Any], Any]] = []
        self.seen: dict[int, dict[str, Any]] = {}
        self.explanations: list[Explanation] = []
        self.plot_url: str | None = None

    def call(self, tool: str, **arguments: Any) -> Any:
        arguments = {k: v for k, v in arguments.items() if v is not None}
        try:
            result = PLANNER_TOOLS[tool](self.ctx, **arguments)
        except AgentError as exc:
            self.calls.append(ToolCall(tool=tool, arguments=arguments, summary=f"error: {exc}"))
            raise
        summary = tool_summary(tool, result)
        self.calls.append(ToolCall(tool=tool, arguments=arguments, summary=summary))
        self.results.append((tool, arguments, result))
        self._remember(result)
        return result

    def _remember(self, value: Any) -> None:
        """Collect every anomaly in a result, so the text's citations can be resolved."""
        # depth first, in document order (the first dict seen for an id is kept)
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if _ANOMALY_KEYS <= item.keys():
                    self.seen.setdefault(int(item["id"]), item)
                stack.extend(v for v in reversed(item.values()) if isinstance(v, dict | list))
            elif isinstance(item, list):
                stack.extend(v for v in reversed(item) if isinstance(v, dict | list))


def tool_summary(tool: str, result: Any) -> str:
    """A one-line account of a tool result for the trace."""
    if tool == "resolve_period":
        return f"{result['start']} to {result['end']} ({result['label']})"
    if tool == "list_anomalies":
        return f"{len(result['anomalies'])} of {result['total']} anomalies"
    if tool == "get_anomaly":
        return f"anomaly #{result['id']}: {result['kind']} on {result['channel']}"
    if tool == "list_channels":
        return f"{len(result['channels'])} channels"
    if tool == "channel_summary":
        return f"{result['points']} points, {result['anomaly_count']} anomalies"
    if tool == "detect":
        return f"{result['points']} points scanned, {len(result['anomalies'])} anomalies found"
    if tool == "explain":
        return f"{len(result['explanations'])} possible explanations"
    if tool == "find_events":
        return f"{len(result['events'])} of {result['total']} events"
    if tool == "satellite_state":
        return f"{len(result['ongoing'])} ongoing anomalies, {len(result['channels'])} channels"
    if tool == "plot":
        return str(result["url"])
    if tool == "channel_model":
        return f"version {result['version']}" if result["trained"] else "no trained model"
    if tool == "forecast":
        return f"{len(result['forecast'])} steps to {result['horizon_end']}"
    return "done"
