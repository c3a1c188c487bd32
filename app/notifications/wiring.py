"""Building the notification parts from the settings, at start-up."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from app.notifications.dispatcher import Dispatcher, RetryPolicy, Sender, WidgetSender
from app.notifications.email import EmailSender, SmtpConfig, find_plot_function
from app.notifications.report_mail import BuildReport, ReportMailer
from app.notifications.signing import LinkSigner, link_key
from app.notifications.webhook import WebhookSender
from app.reports import Report, build_report
from app.settings import Settings
from ingestion.incident_messages import Explain, LinkConfig, OutboxNotifier
from ingestion.incidents import IncidentTracker

if TYPE_CHECKING:
    from app.runtime import Services

logger = logging.getLogger(__name__)


def link_signer(settings: Settings) -> LinkSigner:
    """The signer of ack and silence links."""
    configured = settings.notify_secret.get_secret_value() if settings.notify_secret else None
    return LinkSigner(link_key(settings.home.resolve(), configured))


def first_explanation(services: Services) -> Explain:
    """A callable giving the first possible cause of an anomaly, via the agent's tool."""
    from agent.errors import AgentError
    from agent.tools import explain
    from store.errors import StoreError

    def first(anomaly_id: int, tenant: str) -> str | None:
        context = services.tool_context(tenant)
        try:
            causes = explain(context, anomaly_id)["explanations"]
        except (AgentError, StoreError, SQLAlchemyError, ValueError) as error:
            logger.warning("no explanation for anomaly %d: %s", anomaly_id, error)
            return None
        return str(causes[0]["cause"]) if causes else None

    return first


def attach_incidents(services: Services) -> IncidentTracker:
    """Give the pipeline an incident tracker that queues messages in the outbox."""
    settings = services.settings
    signer = link_signer(settings)
    notifier = OutboxNotifier(
        LinkConfig(base_url=settings.public_url or settings.url, sign=signer.sign),
        explain=first_explanation(services),
    )
    tracker = IncidentTracker(
        services.engine,
        quiet=timedelta(seconds=settings.incident_quiet_s),
        on_transitions=notifier,
    )
    services.pipeline.incidents = tracker
    return tracker


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP settings, or None when no SMTP host is set."""
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        timeout_s=settings.notify_timeout_s,
    )


def build_dispatcher(services: Services) -> Dispatcher:
    """The outbox dispatcher; it also closes idle incidents on the worker's clock."""
    settings = services.settings
    senders: dict[str, Sender] = {
        "webhook": WebhookSender(settings.notify_timeout_s),
        "email": EmailSender(smtp_config(settings), find_plot_function(services.engine)),
        "widget": WidgetSender(),
    }
    tracker = services.pipeline.incidents
    worker = services.worker
    sweep = None
    if tracker is not None:
        clock = worker.clock if worker is not None else tracker.clock

        def sweep() -> None:
            tracker.close_idle(clock())

    return Dispatcher(
        services.engine,
        senders,
        RetryPolicy(
            settings.notify_max_attempts, settings.notify_backoff_s, settings.notify_backoff_max_s
        ),
        poll_s=settings.notify_poll_s,
        sweep=sweep,
    )


def report_builder(services: Services) -> BuildReport:
    """Builds a tenant's satellite report over a period ending at a given time."""

    def build(tenant: str, satellite: str, end: datetime, period: str) -> Report:
        context = services.tool_context(tenant)
        context.now = lambda: end
        return build_report(context, satellite, period)

    return build


def build_report_mailer(services: Services) -> ReportMailer:
    """The scheduler that queues the reports subscribers asked for."""
    return ReportMailer(
        services.engine,
        report_builder(services),
        interval_s=services.settings.report_check_interval_s,
    )
