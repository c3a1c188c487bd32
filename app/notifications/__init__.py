"""Delivery of incident messages: webhooks, e-mail, the widget stream, and the dispatcher."""

from app.notifications.signing import sign_webhook, verify_signature

__all__ = ["sign_webhook", "verify_signature"]
