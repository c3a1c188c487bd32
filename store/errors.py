"""Errors raised by the store."""


class StoreError(Exception):
    """Base class of the store's errors."""


class HomeLockedError(StoreError):
    """Another process already writes this IMON_HOME."""


class NotFoundError(StoreError):
    """A record asked for by id or name does not exist."""
