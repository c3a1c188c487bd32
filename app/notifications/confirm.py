"""Pages behind the acknowledge and silence links of messages.

A link in an e-mail is opened with a GET, which must not change anything (mail
scanners and link previews follow links too). So ``GET /incidents/{id}/ack`` and
``GET /channels/{id}/silence`` show what the link is about and a button; the button
POSTs a form to the same URL, with the same signed token, which does the action. The
signed token is the credential of these pages and of those POSTs: they need no API key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: openapi_extra of routes whose signed link token stands in for an API key.
TOKEN_ROUTE: dict[str, Any] = {"x-public": True}


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )


def page(
    title: str,
    text: str = "",
    *,
    facts: list[tuple[str, str]] | None = None,
    action: str | None = None,
    button: str = "",
    error: str | None = None,
    done: bool = False,
    status: int = 200,
) -> HTMLResponse:
    """A small HTML page: what a link does, a confirmation button, or the outcome."""
    html = (
        _environment()
        .get_template("confirm.html")
        .render(
            title=title,
            text=text,
            facts=facts or [],
            action=action,
            button=button,
            error=error,
            done=done,
        )
    )
    return HTMLResponse(html, status_code=status)


def action_url(path: str, **params: Any) -> str:
    """`path` with its query (the token and options), for the confirmation form."""
    return f"{path}?{urlencode(params)}"


def wants_html(request: Request) -> bool:
    """Whether the client is a browser submitting the form (it asks for HTML)."""
    return "text/html" in request.headers.get("accept", "")
