"""Escalation ladders in time: who is notified when, and who is due now.

A ladder is clock time from when the request was logged (or reopened). Each
role is notified once per request, and a request resolved before a step's time
never triggers it. After a priority change the new priority's ladder simply
applies from the same start: steps whose time has passed are due at once,
roles already notified are not notified again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ._moments import aware_utc
from .plans import STANDARD_PLAN, SupportPlan
from .priorities import Priority, Role

__all__ = ["ScheduledEscalation", "escalation_plan", "escalations_due"]


@dataclass(frozen=True)
class ScheduledEscalation:
    """A ladder step placed in time: notify ``role`` at ``due_at`` (UTC) if unresolved."""

    role: Role
    due_at: datetime


def escalation_plan(
    priority: Priority, ladder_started_at: datetime, plan: SupportPlan = STANDARD_PLAN
) -> tuple[ScheduledEscalation, ...]:
    """Every step of ``priority``'s ladder as a moment, in time order."""
    start = aware_utc("ladder_started_at", ladder_started_at)
    return tuple(
        ScheduledEscalation(step.role, start + step.after) for step in plan.ladders[priority]
    )


def escalations_due(
    schedule: Iterable[ScheduledEscalation],
    now: datetime,
    notified_roles: Iterable[Role] = (),
    resolved: bool = False,
) -> tuple[ScheduledEscalation, ...]:
    """The steps of ``schedule`` to notify at ``now``.

    A step is due once its time has come (``due_at <= now``, so a step whose
    time passed long ago is due at once) while the request is unresolved and
    its role has not been notified for this request yet.
    """
    now = aware_utc("now", now)
    if resolved:
        return ()
    already = frozenset(notified_roles)
    return tuple(s for s in schedule if s.due_at <= now and s.role not in already)
