"""Due times: when a first response or the next update is owed.

Clock targets are plain elapsed time (support runs 24/7, 365 days); business
targets run only while the customer's calendar is open.
"""

from __future__ import annotations

from datetime import datetime

from ._moments import aware_utc
from .calendars import DEFAULT_CALENDAR, BusinessCalendar
from .plans import STANDARD_PLAN, SupportPlan
from .priorities import Priority
from .targets import Target

__all__ = ["due_time", "first_response_due", "next_update_due"]


def due_time(
    start: datetime, target: Target, calendar: BusinessCalendar = DEFAULT_CALENDAR
) -> datetime:
    """When ``target`` runs out if its clock starts at ``start``; UTC.

    For a business target, whole days of the amount are business days (each the
    calendar's working-day length) and the rest business hours; the clock of a
    start outside working hours starts at the next opening.
    """
    start = aware_utc("start", start)
    if not target.business:
        return start + target.amount
    days = target.amount.days
    business_time = days * calendar.working_day_length + (target.amount - days * _DAY)
    return calendar.add_business_time(start, business_time)


def first_response_due(
    priority: Priority,
    opened_at: datetime,
    plan: SupportPlan = STANDARD_PLAN,
    calendar: BusinessCalendar = DEFAULT_CALENDAR,
) -> datetime:
    """When the first e-mail to the customer is owed for a request opened at ``opened_at``."""
    return due_time(aware_utc("opened_at", opened_at), plan.first_response[priority], calendar)


def next_update_due(
    priority: Priority,
    last_contact_at: datetime,
    plan: SupportPlan = STANDARD_PLAN,
    calendar: BusinessCalendar = DEFAULT_CALENDAR,
) -> datetime:
    """When the next progress update is owed, counted from the last contact with the customer."""
    return due_time(aware_utc("last_contact_at", last_contact_at), plan.updates[priority], calendar)


_DAY = Target.business_days(1).amount
