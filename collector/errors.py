"""Errors of the collector.

CollectorError          base of everything raised here
├── SettingsError       the collector's configuration is unusable
├── NotFound            a host, check or ticket that does not exist
├── Conflict            a lifecycle action the ticket's state does not allow (409)
└── Unavailable         the database cannot be reached (503; agents keep spooling)
"""

from __future__ import annotations

__all__ = [
    "CollectorError",
    "SettingsError",
    "NotFound",
    "InvalidRequest",
    "Conflict",
    "Unavailable",
]


class CollectorError(Exception):
    """Base of the collector's errors."""


class SettingsError(CollectorError):
    """The collector's configuration is unusable; the message lists every problem."""


class NotFound(CollectorError):
    """The thing asked for does not exist."""


class InvalidRequest(CollectorError):
    """Input that parses but cannot be acted on (a silence that ends before it starts)."""


class Conflict(CollectorError):
    """The action is not allowed in the current state."""


class Unavailable(CollectorError):
    """The database is unreachable; the caller should retry later."""
