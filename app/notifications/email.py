"""E-mail delivery over SMTP (stdlib smtplib): text and HTML parts, a plot when possible.

The plot of the incident's first channel is attached inline (a CID image) when
``app/plots.py`` provides ``channel_plot(session, channel_id, start, end) -> bytes``;
without it the e-mail carries the dashboard link only. A scheduled report is sent as
its own e-mail: the report's HTML as the body, its plots as inline CID images (mail
clients block the ``data:`` images the report uses on the web).
"""

from __future__ import annotations

import base64
import binascii
import html
import importlib
import logging
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.notifications.errors import DeliveryError
from app.notifications.webhook import batch_key
from store.errors import StoreError
from store.notifications_models import OutboxMessage, Subscription

logger = logging.getLogger(__name__)

#: Data shown before and after the incident in the plot, at least.
PLOT_MARGIN = timedelta(minutes=30)

PlotFunction = Callable[[int, datetime, datetime], bytes | None]
_DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send e-mail; the password is never logged."""

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "imon@localhost"
    starttls: bool = False
    timeout_s: float = 10.0


def find_plot_function(engine: Engine) -> PlotFunction | None:
    """`app.plots.channel_plot` bound to the engine, when that module provides it."""
    try:
        module = importlib.import_module("app.plots")
    except ImportError:
        return None
    render = getattr(module, "channel_plot", None)
    if not callable(render):
        return None

    def plot(channel_id: int, start: datetime, end: datetime) -> bytes | None:
        margin = max(end - start, PLOT_MARGIN)
        with Session(engine) as session:
            result = render(session, channel_id, start - margin, end + margin)
        return result if isinstance(result, bytes) else None

    return plot


def compose(
    sender: str, recipient: str, messages: list[OutboxMessage], plot: bytes | None
) -> EmailMessage:
    """The e-mail of one message or a digest: plain text, HTML, an inline plot."""
    payloads = [m.payload for m in messages]
    if len(payloads) == 1:
        subject = f"[IMON] {payloads[0]['summary']}"
    else:
        subject = f"[IMON] digest of {len(payloads)} incident messages"
    email = EmailMessage()
    email["Subject"] = subject[:200]
    email["From"] = sender
    email["To"] = recipient
    email["Message-ID"] = make_msgid(domain="imon")
    email["X-IMON-Idempotency-Key"] = batch_key(messages)
    email.set_content("\n\n".join(_text(p) for p in payloads))
    cid = make_msgid(domain="imon") if plot else None
    blocks = "".join(_html(p) for p in payloads)
    image = f'<p><img src="cid:{cid[1:-1]}" alt="channel plot"></p>' if cid else ""
    email.add_alternative(f"<html><body>{blocks}{image}</body></html>", subtype="html")
    if plot and cid:
        html_part = email.get_body(("html",))
        if isinstance(html_part, EmailMessage):
            html_part.add_related(plot, maintype="image", subtype="png", cid=cid)
    return email


def compose_report(sender: str, recipient: str, message: OutboxMessage) -> EmailMessage:
    """The e-mail of a scheduled report: a text summary, the report as HTML, its plots."""
    payload = message.payload
    email = EmailMessage()
    email["Subject"] = f"[IMON] {payload['summary']}"[:200]
    email["From"] = sender
    email["To"] = recipient
    email["Message-ID"] = make_msgid(domain="imon")
    email["X-IMON-Idempotency-Key"] = message.idempotency_key
    email.set_content(
        f"{payload['summary']}\n\nThe report of {payload['satellite']} from "
        f"{payload['start']} to {payload['end']} (UTC) is in the HTML part of this e-mail."
    )
    images: list[tuple[str, bytes]] = []

    def inline(match: re.Match[str]) -> str:
        try:
            data = base64.b64decode(match.group(1), validate=False)
        except (binascii.Error, ValueError):
            return match.group(0)
        cid = make_msgid(domain="imon")
        images.append((cid, data))
        return f'src="cid:{cid[1:-1]}"'

    email.add_alternative(_DATA_PNG.sub(inline, str(payload["html"])), subtype="html")
    html_part = email.get_body(("html",))
    if isinstance(html_part, EmailMessage):
        for cid, data in images:
            html_part.add_related(data, maintype="image", subtype="png", cid=cid)
    return email


def _text(payload: dict[str, Any]) -> str:
    incident = payload["incident"]
    links = payload["links"]
    lines = [
        payload["summary"],
        f"Severity: {incident['severity']}",
        f"Start (UTC): {incident['start']}",
        f"End (UTC): {incident['end']}",
        "Channels: " + ", ".join(c["name"] for c in incident["channels"]),
    ]
    if payload.get("explanation"):
        lines.append(f"Possible explanation: {payload['explanation']}")
    lines.append(f"Dashboard: {links['dashboard']}")
    lines.append(f"Acknowledge (opens a page to confirm): {links['acknowledge']}")
    lines += [
        f"Silence {name} for an hour (opens a page to confirm): {url}"
        for name, url in links["silence"].items()
    ]
    return "\n".join(lines)


def _html(payload: dict[str, Any]) -> str:
    incident = payload["incident"]
    links = payload["links"]
    channels = ", ".join(html.escape(c["name"]) for c in incident["channels"])
    explanation = payload.get("explanation")
    return (
        f"<h3>{html.escape(payload['summary'])}</h3><ul>"
        f"<li>Severity: <b>{html.escape(incident['severity'])}</b></li>"
        f"<li>Start (UTC): {incident['start']}</li><li>End (UTC): {incident['end']}</li>"
        f"<li>Channels: {channels}</li>"
        + (f"<li>Possible explanation: {html.escape(explanation)}</li>" if explanation else "")
        + f'</ul><p><a href="{html.escape(links["dashboard"])}">Open in the dashboard</a> · '
        f'<a href="{html.escape(links["acknowledge"])}">Acknowledge</a></p>'
        + _silence_links(links["silence"])
    )


def _silence_links(links: dict[str, str]) -> str:
    if not links:
        return ""
    items = " · ".join(
        f'<a href="{html.escape(url)}">{html.escape(name)}</a>' for name, url in links.items()
    )
    return f"<p>Silence for an hour: {items}</p>"


class EmailSender:
    """Sends messages to the subscription's address through the configured SMTP server."""

    def __init__(self, config: SmtpConfig | None, plot: PlotFunction | None = None) -> None:
        self.config = config
        self.plot = plot

    def send(
        self, subscription: Subscription, messages: list[OutboxMessage], now: datetime
    ) -> None:
        """Deliver; SMTP and network errors become a `DeliveryError`."""
        if self.config is None:
            raise DeliveryError("SMTP is not configured: set IMON_SMTP_HOST")
        if messages[0].transition == "report":
            email = compose_report(self.config.sender, subscription.target, messages[0])
        else:
            email = compose(
                self.config.sender, subscription.target, messages, self._plot(messages)
            )
        try:
            with smtplib.SMTP(
                self.config.host, self.config.port, timeout=self.config.timeout_s
            ) as smtp:
                if self.config.starttls:
                    smtp.starttls()
                if self.config.user:
                    smtp.login(self.config.user, self.config.password or "")
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
        logger.info(
            "e-mail of subscription %s sent with %d message(s)", subscription.id, len(messages)
        )

    def _plot(self, messages: list[OutboxMessage]) -> bytes | None:
        if self.plot is None or "incident" not in messages[0].payload:
            return None
        incident = messages[0].payload["incident"]
        if not incident["channels"]:
            return None
        start = datetime.fromisoformat(incident["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(incident["end"].replace("Z", "+00:00"))
        try:
            return self.plot(incident["channels"][0]["id"], start, end)
        except (StoreError, ValueError, OSError, RuntimeError) as error:
            logger.warning("no plot for incident %s: %s", incident["id"], error)
            return None
