"""When a host counts as silent and a check as stale: one rule for the API and the sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case

from portacare.checks import Status

from .models import CheckState, Host
from .settings import TicketRules

__all__ = [
    "STATUS_RANK",
    "silent_after",
    "quiet_allowance",
    "is_silent",
    "went_quiet",
    "is_stale",
    "check_interval",
    "stale_allowance",
]

_DEFAULT_RULES = TicketRules()


class ReportingHost(Protocol):
    """What the intervals of a host are read from: a ``Host`` or a plain row like it."""

    interval_s: float
    check_intervals: dict[str, Any]


#: a check state's rank for "worst of", in SQL, as Status.severity (OK<UNKNOWN<WARNING<CRITICAL)
STATUS_RANK = case(
    (CheckState.status == int(Status.CRITICAL), 3),
    (CheckState.status == int(Status.WARNING), 2),
    (CheckState.status == int(Status.UNKNOWN), 1),
    else_=0,
)


def silent_after(host: Host, rules: TicketRules = _DEFAULT_RULES) -> timedelta:
    """How long a host may stay quiet: 3 of its reported intervals, at least 5 minutes."""
    return quiet_allowance(host.interval_s, rules)


def quiet_allowance(interval_s: float, rules: TicketRules = _DEFAULT_RULES) -> timedelta:
    """``silent_after`` for an agent reporting every ``interval_s`` seconds."""
    return max(timedelta(seconds=rules.silent_intervals * interval_s), rules.silent_minimum)


def is_silent(host: Host, now: datetime, rules: TicketRules = _DEFAULT_RULES) -> bool:
    """True for a host never heard from or quiet past its ``silent_after``."""
    return went_quiet(host.last_seen, host.interval_s, now, rules)


def went_quiet(
    last_seen: datetime | None,
    interval_s: float,
    now: datetime,
    rules: TicketRules = _DEFAULT_RULES,
) -> bool:
    """:func:`is_silent` from the two columns it needs (for lists read without ORM objects)."""
    return last_seen is None or now - last_seen > quiet_allowance(interval_s, rules)


def check_interval(host: ReportingHost, check: str) -> float:
    """Seconds between a check's runs as its agent reported them (else the agent's interval)."""
    return float((host.check_intervals or {}).get(check, host.interval_s))


def stale_allowance(
    host: ReportingHost, check: str, rules: TicketRules = _DEFAULT_RULES
) -> timedelta:
    """How long a check's last result counts as current: 3 of the check's intervals."""
    return timedelta(seconds=rules.silent_intervals * check_interval(host, check))


def is_stale(
    host: Host, state: CheckState, now: datetime, rules: TicketRules = _DEFAULT_RULES
) -> bool:
    """A check that missed 3 of its intervals: its last status must not be shown as current."""
    return now - state.observed_at > stale_allowance(host, state.check, rules)
