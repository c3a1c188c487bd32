"""Errors raised by the agent's tools and planner.

Each carries a message meant for the person asking: it names what was not found or
not understood and, where it can, what would work instead.
"""


class AgentError(Exception):
    """Base class of the agent's errors."""


class NotFoundError(AgentError):
    """An anomaly, satellite or channel asked for by id or name does not exist."""


class AmbiguousNameError(AgentError):
    """A channel name matches several channels; the satellite must be given too."""


class PeriodError(AgentError, ValueError):
    """A time expression could not be turned into a UTC period."""


class InvalidArgumentError(AgentError, ValueError):
    """A tool argument has the wrong value (bad ISO date, unknown kind or severity)."""


class DetectionUnavailableError(AgentError):
    """The detection package cannot be imported (not installed or incomplete)."""
