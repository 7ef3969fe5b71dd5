"""Errors of the checks package.

CheckError                 base of everything raised here
├── CheckDiscoveryError    an entry point is invalid, duplicated or not a check
└── CheckFailed            a check cannot look (missing tool, refused connection);
                           the runner reports it as UNKNOWN with the message
"""

from __future__ import annotations

__all__ = ["CheckError", "CheckDiscoveryError", "CheckFailed"]


class CheckError(Exception):
    """Base of the checks package's errors."""


class CheckDiscoveryError(CheckError):
    """A check could not be registered: invalid, duplicated or not a Check."""


class CheckFailed(CheckError):
    """A check could not observe what it watches; becomes UNKNOWN with this message."""
