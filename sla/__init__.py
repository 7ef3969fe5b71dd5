"""PortaCare's SLA and escalation rules, as pure functions over aware datetimes.

What the support policy promises a customer (``SUPPORT-POLICY.md``): priorities
with their RT codes, first-response and update targets (clock time for P1/P2,
business time of the customer's calendar for P3/P4), and the escalation ladder
that notifies managers while a request stays unresolved. No I/O, no database,
no clock reads: the current moment is always a parameter, so a help-desk that
is not PortaCare can import this package too. Usage::

    from datetime import UTC, datetime
    from portacare.sla import Priority, TicketFacts, assess

    facts = TicketFacts(Priority.P1, opened_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    result = assess(facts, now=datetime(2026, 11, 26, 13, 30, tzinfo=UTC))
    result.first_response_overdue   # True: due 13:00
    result.escalations_due          # TSM (at 12:00) and CRM (at 13:00)

Errors: every refusal is a :class:`SlaError` (a ``ValueError``);
:class:`NaiveDatetimeError` is the one for a datetime without a time zone.
"""

from __future__ import annotations

from .assessment import Assessment, TicketFacts, assess
from .calendars import DEFAULT_CALENDAR, BusinessCalendar
from .deadlines import due_time, first_response_due, next_update_due
from .errors import NaiveDatetimeError, SlaError
from .escalation import ScheduledEscalation, escalation_plan, escalations_due
from .plans import STANDARD_PLAN, SupportPlan, load_plans
from .priorities import Priority, Role
from .targets import EscalationStep, Target, parse_duration, parse_target

__all__ = [
    "DEFAULT_CALENDAR",
    "STANDARD_PLAN",
    "Assessment",
    "BusinessCalendar",
    "EscalationStep",
    "NaiveDatetimeError",
    "Priority",
    "Role",
    "ScheduledEscalation",
    "SlaError",
    "SupportPlan",
    "Target",
    "TicketFacts",
    "assess",
    "due_time",
    "escalation_plan",
    "escalations_due",
    "first_response_due",
    "load_plans",
    "next_update_due",
    "parse_duration",
    "parse_target",
]
