"""Exception handlers shared by every route: out-of-range numbers and bulky echoes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)

ECHO_CHARS = 200


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
            entry["input"] = _short(item["input"])
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


async def _too_deep(request: Request, _error: Exception) -> JSONResponse:
    logger.info("over-nested body refused on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=400, content={"detail": "body: JSON nested too deeply to be telemetry"}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(RecursionError, _too_deep)
