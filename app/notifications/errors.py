"""Errors of notification delivery."""


class DeliveryError(Exception):
    """A message could not be delivered this time; it is retried later."""


class TokenError(Exception):
    """A signed link token is missing or does not match."""
