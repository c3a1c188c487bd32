"""The one answer shape of ``POST /ask`` and ``imon ask --json``, and its request."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

MAX_QUESTION_CHARS = 2000
CONVERSATION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CitedAnomaly(BaseModel):
    """An anomaly the answer text cites; dates are ISO 8601 UTC with Z."""

    id: int
    satellite: str
    channel: str
    start: str
    end: str
    ongoing: bool
    kind: str
    severity: str


class Explanation(BaseModel):
    """A possible cause of an anomaly, the evidence for it and a confidence in 0..1."""

    anomaly_id: int
    cause: str
    evidence: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)


class ToolCall(BaseModel):
    """One tool call made to compose the answer."""

    tool: str
    arguments: dict[str, object] = Field(default_factory=dict)
    summary: str


class AskResult(BaseModel):
    """An answer: text, the anomalies it cites, explanations and the tool trace."""

    answer: str
    anomalies: list[CitedAnomaly] = Field(default_factory=list)
    explanations: list[Explanation] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    conversation_id: str | None = None
    plot_url: str | None = None


class AskRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    question: str
    conversation_id: str | None = None

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("question is blank: ask something, e.g. 'list channels'")
        if len(value) > MAX_QUESTION_CHARS:
            raise ValueError(
                f"question has {len(value)} characters; at most {MAX_QUESTION_CHARS} are allowed"
            )
        return value

    @field_validator("conversation_id")
    @classmethod
    def _conversation_id_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not CONVERSATION_ID_RE.fullmatch(value):
            raise ValueError(
                "conversation_id must be 1 to 64 characters among A-Z, a-z, 0-9, '_' and "
                f"'-'; got {value[:80]!r}"
            )
        return value
