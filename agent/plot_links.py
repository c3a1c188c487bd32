"""The link to a channel's plot, for the ``plot_url`` of answers about one channel.

Links shown in a browser (``<img src>``) cannot carry an API key, so the service signs
them: :func:`sign_link` appends ``tenant``, ``exp`` (Unix seconds) and ``sig``, the
HMAC-SHA256 over the path, the other query parameters, the tenant and the expiry;
:func:`check_signed_link` gives the tenant back only while the signature matches and
has not expired.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from agent._common import parse_time
from store.vector import iso_z


def plot_url_for(
    channel_id: int, start: str | datetime | None = None, end: str | datetime | None = None
) -> str:
    """Relative URL of the PNG plot of a channel over [start, end] (``GET
    /channels/{id}/plot.png``).

    ``start``/``end`` are ISO 8601 strings with a zone or aware datetimes, as tools return
    them; the URL carries them as ISO 8601 UTC with ``Z``. An omitted bound is left out
    and the plot then uses the channel's first or last stored point.
    """
    if isinstance(channel_id, bool) or not isinstance(channel_id, int) or channel_id < 1:
        raise ValueError(f"channel_id must be a positive integer; got {channel_id!r}")
    first, last = parse_time(start, "start"), parse_time(end, "end")
    if first is not None and last is not None and last < first:
        raise ValueError(f"end {iso_z(last)} is before start {iso_z(first)}")

    query = {
        name: iso_z(value.astimezone(UTC))
        for name, value in (("start", first), ("end", last))
        if value is not None
    }
    suffix = f"?{urlencode(query, safe=':')}" if query else ""
    return f"/channels/{channel_id}/plot.png{suffix}"


SIGNED_PARAMS = ("tenant", "exp", "sig")


def _link_mac(key: bytes, path: str, params: Sequence[tuple[str, str]]) -> str:
    message = path + "?" + urlencode(sorted(params))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign_link(url: str, tenant: str, key: bytes, expires: int) -> str:
    """`url` (a path with an optional query) signed for `tenant` until `expires` (Unix s)."""
    if not tenant:
        raise ValueError("tenant: empty; a signed link belongs to one tenant")
    path, _, query = url.partition("?")
    params = [
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in SIGNED_PARAMS
    ]
    params += [("tenant", tenant), ("exp", str(int(expires)))]
    signature = _link_mac(key, path, params)
    return f"{path}?{urlencode([*params, ('sig', signature)], safe=':')}"


def check_signed_link(path: str, params: Sequence[tuple[str, str]], key: bytes, now: float) -> str:
    """The tenant of a signed link, or ValueError saying why the link is refused."""
    signatures = [v for k, v in params if k == "sig"]
    unsigned = [(k, v) for k, v in params if k != "sig"]
    tenants = [v for k, v in unsigned if k == "tenant"]
    expiries = [v for k, v in unsigned if k == "exp"]
    if len(signatures) != 1 or len(tenants) != 1 or len(expiries) != 1:
        raise ValueError("signature: a signed link needs exactly one tenant, exp and sig")
    if not hmac.compare_digest(_link_mac(key, path, unsigned), signatures[0]):
        raise ValueError("signature: does not match this link")
    if not expiries[0].isdigit() or int(expiries[0]) < now:
        raise ValueError("signature: the link has expired; reload the page for a fresh one")
    return tenants[0]
