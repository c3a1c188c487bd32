"""The agent's tools as llama-index ``FunctionTool``s, with the ToolContext bound.

Each tool in :data:`agent.tools.TOOLS` becomes a ``FunctionTool`` whose JSON schema
comes from the function's signature (the ``ctx`` parameter left out) and whose
description is the function's docstring. A call never raises into the agent: the
arguments are validated first (unknown names, wrong types, JSON that did not parse),
the tool's errors are caught, and the model always gets a JSON result with a status.
Every call is recorded for the answer's trace and its checks.
"""

from __future__ import annotations

import inspect
import logging
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from agent import llm_guard
from agent.context import ToolContext
from agent.errors import AgentError
from agent.schema import Explanation, ToolCall
from agent.tools import TOOLS

logger = logging.getLogger(__name__)

#: Key put in place of arguments that were not a JSON object (see llm_agent).
MALFORMED_KEY = "__malformed_arguments__"


@dataclass
class Record:
    """One tool call as the model made it and what it got back."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    summary: str
    data: Any = None  # the clipped result the model saw, when ok


class Toolbox:
    """Runs the tools for one question and records every call.

    Args:
        ctx: what the tools receive first (store, index, clock, tenant).
        max_calls: calls answered before every further call gets a budget error.
        tools: name → tool function; :data:`agent.tools.TOOLS` by default.
    """

    def __init__(
        self,
        ctx: ToolContext,
        max_calls: int,
        tools: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.max_calls = max_calls
        self.tools = dict(TOOLS if tools is None else tools)
        self.records: list[Record] = []
        self._models = {name: _arguments_model(name, fn) for name, fn in self.tools.items()}
        self._lock = threading.Lock()

    def function_tools(self) -> list[FunctionTool]:
        """One llama-index FunctionTool per tool, calling :meth:`call`."""
        return [
            FunctionTool.from_defaults(
                fn=self._bound(name),
                name=name,
                description=inspect.getdoc(fn) or name,
                fn_schema=self._models[name],
            )
            for name, fn in self.tools.items()
        ]

    def _bound(self, name: str) -> Callable[..., str]:
        def run(**arguments: Any) -> str:
            return self.call(name, arguments)

        run.__name__ = name
        return run

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run tool ``name`` with the model's ``arguments``; the result as JSON text."""
        with self._lock:
            over_budget = len(self.records) >= self.max_calls
        if over_budget:
            return self._error(
                name,
                arguments,
                f"the budget of {self.max_calls} tool calls is used up; answer now",
            )
        if name not in self.tools:
            return self.record_unknown(name, arguments)
        if MALFORMED_KEY in arguments:
            return self._error(
                name,
                arguments,
                "the arguments are not a JSON object; send them again as JSON, e.g. "
                '{"anomaly_id": 12}',
            )
        try:
            checked = self._models[name].model_validate(arguments)
        except ValidationError as exc:
            return self._error(name, arguments, _validation_message(exc))

        kwargs = {k: v for k, v in checked.model_dump(exclude_unset=True).items() if v is not None}
        try:
            result = self.tools[name](self.ctx, **kwargs)
        except AgentError as exc:
            return self._error(name, kwargs, str(exc))
        except Exception:  # a bug or an outage must reach the model as a result, not a crash
            logger.exception("tool %s failed with arguments %s", name, kwargs)
            return self._error(name, kwargs, "the tool failed with an internal error")

        data = llm_guard.clip(result)
        text = llm_guard.as_data(name, "ok", data)
        with self._lock:
            self.records.append(Record(name, kwargs, True, _summary(name, result), data))
        return text

    def record_unknown(self, name: str, arguments: dict[str, Any]) -> str:
        """Answer (and record) a call of a tool that does not exist."""
        known = ", ".join(self.tools)
        return self._error(name, arguments, f"unknown tool '{name}'; the tools are: {known}")

    def _error(self, name: str, arguments: dict[str, Any], message: str) -> str:
        logger.info("tool call %s answered with an error: %s", name, message)
        shown = dict(arguments)
        if MALFORMED_KEY in shown:  # keep what the model sent, as text, for the trace
            shown = {"unparsed": shown[MALFORMED_KEY]}
        with self._lock:
            self.records.append(Record(name, shown, False, f"error: {message}"))
        return llm_guard.as_data(name, "error", llm_guard.clip(message))

    # --- what the answer is built from ---------------------------------------------------

    def results(self) -> list[Any]:
        """The successful results as the model saw them, in call order."""
        return [r.data for r in self.records if r.ok]

    def anomalies(self) -> dict[int, dict[str, Any]]:
        """Every anomaly the model was shown, by id."""
        found: dict[int, dict[str, Any]] = {}
        for data in self.results():
            for key, value in llm_guard.anomalies_in(data).items():
                found.setdefault(key, value)
        return found

    def explanations(self) -> list[Explanation]:
        """The possible causes returned by the explain calls."""
        found = []
        for record in self.records:
            if not (record.ok and record.tool == "explain" and isinstance(record.data, dict)):
                continue
            anomaly_id = int(record.data["anomaly"]["id"])
            for item in record.data.get("explanations", []):
                if isinstance(item, dict):
                    found.append(
                        Explanation(
                            anomaly_id=anomaly_id,
                            cause=item["cause"],
                            evidence=[str(e) for e in item["evidence"]],
                            confidence=item["confidence"],
                        )
                    )
        return found

    def trace(self) -> list[ToolCall]:
        """The calls for the answer's ``tool_calls``."""
        return [
            ToolCall(tool=r.tool, arguments=r.arguments, summary=r.summary) for r in self.records
        ]


def _arguments_model(name: str, fn: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of ``fn``'s arguments after ``ctx``; extra names are refused."""
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def _validation_message(exc: ValidationError) -> str:
    """The argument errors in one line: ``name: problem (got value)``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden":
            parts.append(f"{where}: no such argument")
        elif error["type"] == "missing":
            parts.append(f"{where}: required")
        else:
            parts.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "invalid arguments: " + "; ".join(parts)


def _summary(tool: str, result: Any) -> str:
    """A one-line account of a tool result for the trace."""
    if not isinstance(result, dict):
        return "done"
    if tool == "resolve_period":
        return f"{result.get('start')} to {result.get('end')} ({result.get('label')})"
    if tool == "get_anomaly":
        return f"anomaly #{result.get('id')}: {result.get('kind')} on {result.get('channel')}"
    counts = {
        "list_anomalies": ("anomalies", "anomalies"),
        "list_channels": ("channels", "channels"),
        "detect": ("anomalies", "anomalies found"),
        "explain": ("explanations", "possible explanations"),
    }
    if tool in counts:
        key, noun = counts[tool]
        total = f" of {result['total']}" if "total" in result else ""
        return f"{len(result.get(key, []))}{total} {noun}"
    if tool == "channel_summary":
        return f"{result.get('points')} points, {result.get('anomaly_count')} anomalies"
    return "done"
