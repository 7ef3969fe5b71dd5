"""When a host counts as silent and a check as stale: one rule for the API and the sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

from .models import CheckState, Host
from .settings import TicketRules

__all__ = ["silent_after", "is_silent", "is_stale", "check_interval"]

_DEFAULT_RULES = TicketRules()


def silent_after(host: Host, rules: TicketRules = _DEFAULT_RULES) -> timedelta:
    """How long a host may stay quiet: 3 of its reported intervals, at least 5 minutes."""
    return max(timedelta(seconds=rules.silent_intervals * host.interval_s), rules.silent_minimum)


def is_silent(host: Host, now: datetime, rules: TicketRules = _DEFAULT_RULES) -> bool:
    """True for a host never heard from or quiet past its ``silent_after``."""
    return host.last_seen is None or now - host.last_seen > silent_after(host, rules)


def check_interval(host: Host, check: str) -> float:
    """Seconds between a check's runs as its agent reported them (else the agent's interval)."""
    return float((host.check_intervals or {}).get(check, host.interval_s))


def is_stale(
    host: Host, state: CheckState, now: datetime, rules: TicketRules = _DEFAULT_RULES
) -> bool:
    """A check that missed 3 of its intervals: its last status must not be shown as current."""
    allowed = timedelta(seconds=rules.silent_intervals * check_interval(host, state.check))
    return now - state.observed_at > allowed
