"""Exception handlers shared by every route: out-of-range numbers and bulky echoes."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

logger = logging.getLogger(__name__)

ECHO_CHARS = 200


#: Fields whose values are never echoed back (keys, webhook secrets, passwords, tokens).
_SECRET_NAME = re.compile(r"secret|password|passwd|token|key", re.IGNORECASE)
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    """`value` with the values of secret-looking fields replaced, at any depth."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_NAME.search(k) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _short(value: Any) -> Any:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    """A 422 naming each field and reason, echoing at most a short slice of the input."""
    assert isinstance(error, RequestValidationError)
    details = []
    for item in error.errors():
        entry = {k: v for k, v in item.items() if k not in ("input", "ctx", "url")}
        if "input" in item:
            secret = any(
                isinstance(part, str) and _SECRET_NAME.search(part) for part in item["loc"]
            )
            entry["input"] = REDACTED if secret else _short(_scrub(item["input"]))
        details.append(entry)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(details)})


async def _out_of_range(request: Request, error: Exception) -> JSONResponse:
    """A number too large for a timestamp or a database integer is the caller's error."""
    logger.info("out-of-range number in %s %s: %s", request.method, request.url.path, error)
    return JSONResponse(
        status_code=422,
        content={
            "detail": "a number in the request is out of range (ids and offsets must be "
            "below 2^63, timestamps between 1970 and 2100)"
        },
    )


async def _does_not_fit(request: Request, error: Exception) -> JSONResponse:
    """A value the database refuses as out of its range (PostgreSQL's 32-bit ids, text
    longer than its column) is the caller's error too; the statement is not echoed."""
    reason = type(getattr(error, "orig", error)).__name__
    logger.info(
        "value refused by the database in %s %s: %s", request.method, request.url.path, reason
    )
    return JSONResponse(
        status_code=422,
        content={
            "detail": "a value in the request does not fit the store (ids must be below "
            "2^31, text within the documented lengths)"
        },
    )


async def _too_deep(request: Request, _error: Exception) -> JSONResponse:
    logger.info("over-nested body refused on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=400, content={"detail": "body: JSON nested too deeply to be telemetry"}
    )


def _document_message_422(app: FastAPI) -> None:
    """Declare both shapes of a 422 `detail` in the OpenAPI schema.

    Pydantic's field errors arrive as a list; a route that checks a value itself (an
    unknown satellite, a malformed period) answers one sentence naming the field. Both
    are the caller's error, so the schema says `detail` is either.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.get("components", {}).get("schemas", {})
        error = components.get("HTTPValidationError")
        if error is not None:
            listed = error["properties"]["detail"]
            error["properties"]["detail"] = {
                "anyOf": [
                    {key: value for key, value in listed.items() if key != "title"},
                    {"type": "string", "description": "One sentence naming the field."},
                ],
                "title": "Detail",
            }
        return schema

    setattr(app, "openapi", openapi)  # noqa: B010  (FastAPI's documented override)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`, and document the shapes of the errors they send."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(DataError, _does_not_fit)
    _document_message_422(app)
