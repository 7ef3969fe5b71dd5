"""The Check API and the built-in checks.

A check looks at the host and returns a :class:`CheckResult`; it knows nothing
of agents, HTTP or the collector. See :mod:`portacare.checks.base` for how to
write one and :mod:`portacare.checks.registry` for how it is found.
"""

from __future__ import annotations

from .base import Check, CheckContext, CheckOptions, CheckState
from .errors import CheckDiscoveryError, CheckError, CheckFailed
from .registry import ENTRY_POINT_GROUP, CheckRegistry, discover_checks
from .result import CheckResult, Status, format_time, parse_time, utc_now
from .runner import CheckRunner, run_check, scrub, unknown

__all__ = [
    "Check",
    "CheckContext",
    "CheckDiscoveryError",
    "CheckError",
    "CheckFailed",
    "CheckOptions",
    "CheckRegistry",
    "CheckResult",
    "CheckRunner",
    "CheckState",
    "ENTRY_POINT_GROUP",
    "Status",
    "discover_checks",
    "format_time",
    "parse_time",
    "run_check",
    "scrub",
    "unknown",
    "utc_now",
]
