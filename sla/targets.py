"""Targets and escalation steps: the building blocks of a support plan.

A :class:`Target` is a time allowed for something (a first response, the next
update), either in clock time (support runs 24/7) or in business time of the
customer's calendar. Business targets count whole days as *business days*: one
business day is the length of one working day of the calendar (8 hours with
09:00-17:00), so ``Target.business_days(1)`` works for any calendar.

Configuration writes targets as short strings, read by :func:`parse_target`:
``"30m"``, ``"2h"``, ``"1d"`` (clock), ``"4h business"``, ``"1 business day"``,
``"2 business days"`` (business).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from .errors import SlaError
from .priorities import Role

__all__ = ["EscalationStep", "Target", "parse_duration", "parse_target"]

_UNITS = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
}
_TARGET = re.compile(
    r"^(?P<n>\d+)\s*(?P<pre>business\s+)?(?P<unit>[a-z]+)(?P<post>\s+business)?$",
)


@dataclass(frozen=True)
class Target:
    """A time allowed: ``amount`` of clock time, or of business time if ``business``.

    For a business target, whole days of ``amount`` are business days (each one
    working day long in the calendar used) and the rest is business hours.
    """

    amount: timedelta
    business: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.amount, timedelta):
            raise SlaError(f"a target's amount is a timedelta, got {self.amount!r}")
        if self.amount <= timedelta(0):
            raise SlaError(f"a target must be positive, got {self.amount}")

    @classmethod
    def clock_hours(cls, hours: float) -> Target:
        """A target in clock hours (P1/P2: support runs 24/7)."""
        return cls(timedelta(hours=hours), business=False)

    @classmethod
    def business_hours(cls, hours: float) -> Target:
        """A target in business hours (under one business day, e.g. a premium P3)."""
        if hours >= 24:
            # 24 h would be stored as one day, i.e. one *business day*: say which is meant.
            raise SlaError(f"{hours} business hours: use Target.business_days for a day or more")
        return cls(timedelta(hours=hours), business=True)

    @classmethod
    def business_days(cls, days: int) -> Target:
        """A target in business days (P3/P4)."""
        return cls(timedelta(days=days), business=True)

    def __str__(self) -> str:
        return _describe(self.amount) + (" business" if self.business else "")


@dataclass(frozen=True)
class EscalationStep:
    """One rung of a ladder: notify ``role`` when ``after`` clock time has elapsed."""

    after: timedelta
    role: Role

    def __post_init__(self) -> None:
        if not isinstance(self.after, timedelta) or self.after < timedelta(0):
            raise SlaError(f"an escalation step's time must be >= 0, got {self.after!r}")
        if not isinstance(self.role, Role):
            raise SlaError(f"an escalation step's role must be a Role, got {self.role!r}")


def parse_target(text: object, *, key: str | None = None) -> Target:
    """Read a target from configuration ("2h", "4h business", "1 business day")."""
    if not isinstance(text, str):
        raise SlaError(f'expected a string such as "2h" or "1 business day", got {text!r}', key=key)
    match = _TARGET.match(" ".join(text.strip().lower().split()))
    unit = _UNITS.get(match["unit"]) if match else None
    if match is None or unit is None or (match["pre"] and match["post"]):
        raise SlaError(
            f'cannot read {text!r} as a target (e.g. "30m", "2h", "4h business", "1 business day")',
            key=key,
        )
    amount = int(match["n"]) * unit
    business = bool(match["pre"] or match["post"])
    if business and unit < timedelta(days=1) and amount >= timedelta(days=1):
        # 24 business hours would silently read as one business day (8 hours with
        # 09:00-17:00): make the author say which they mean.
        raise SlaError(
            f"{text!r}: write business time of a day or more in business days "
            f'(e.g. "3 business days"), not hours',
            key=key,
        )
    try:
        return Target(amount, business)
    except SlaError as exc:
        raise SlaError(exc.reason, key=key) from exc


def parse_duration(text: object, *, key: str | None = None) -> timedelta:
    """Read a clock duration from configuration ("0m", "1h", "48h", "4d")."""
    if not isinstance(text, str):
        raise SlaError(f'expected a string such as "0m" or "4h", got {text!r}', key=key)
    match = _TARGET.match(" ".join(text.strip().lower().split()))
    unit = _UNITS.get(match["unit"]) if match else None
    if match is None or unit is None:
        raise SlaError(f'cannot read {text!r} as a duration (e.g. "0m", "1h", "48h")', key=key)
    if match["pre"] or match["post"]:
        raise SlaError(f"{text!r}: escalation times are clock time, not business time", key=key)
    return int(match["n"]) * unit


def _describe(amount: timedelta) -> str:
    parts = []
    if amount.days:
        parts.append(f"{amount.days}d")
    hours, rest = divmod(amount.seconds, 3600)
    if hours:
        parts.append(f"{hours}h")
    if rest // 60 or not parts:
        parts.append(f"{rest // 60}m")
    return "".join(parts)
