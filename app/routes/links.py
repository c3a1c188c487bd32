"""POST /stream/link: a signed, expiring URL of the event stream, for `EventSource`.

A browser's `EventSource` cannot send an API key header, so the widget asks for this link
with its key and opens the stream with it. A link asked for from a page is bound to that
page's origin (its `Origin` header).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.deps import TenantDep
from app.web_session import signed_link

router = APIRouter(tags=["notifications"])


class SignedLinkOut(BaseModel):
    """A signed link and when it stops working."""

    url: str
    expires_at: str


@router.post("/stream/link", response_model=SignedLinkOut, openapi_extra={"x-scope": "read"})
def stream_link(request: Request, tenant: TenantDep) -> SignedLinkOut:
    """A signed `/stream` URL of the key's tenant, valid for `IMON_SIGNED_URL_TTL_S`."""
    origin = request.headers.get("origin")
    url = signed_link(request, "/stream", tenant, origin.rstrip("/") if origin else None)
    expires = int(dict(parse_qsl(urlsplit(url).query))["exp"])
    return SignedLinkOut(
        url=url, expires_at=datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
    )
