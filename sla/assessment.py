"""One answer for one ticket at one moment: what is due, overdue, and who to notify.

:func:`assess` is what the collector's sweep calls. It reads only the ticket's
facts and ``now`` (a parameter: this package never reads the clock), and
treats anything the facts record *after* ``now`` as not having happened yet,
so a sweep "as of" a past moment gets the answer it would have got then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._moments import aware_utc
from .calendars import DEFAULT_CALENDAR, BusinessCalendar
from .deadlines import first_response_due, next_update_due
from .errors import SlaError
from .escalation import ScheduledEscalation, escalation_plan, escalations_due
from .plans import STANDARD_PLAN, SupportPlan
from .priorities import Priority, Role

__all__ = ["Assessment", "TicketFacts", "assess"]

_MOMENTS = ("opened_at", "ladder_started_at", "first_response_at", "last_update_at", "resolved_at")


@dataclass(frozen=True)
class TicketFacts:
    """What the collector knows of a ticket, as recorded.

    ``priority`` is the current one (after any change); ``ladder_started_at`` is
    the moment the request was last reopened (``None``: never reopened, the
    ladder runs from ``opened_at``); ``notified_roles`` are the roles notified so
    far for this request, across priority changes and reopens. For a reopened
    request, a ``resolved_at`` before the reopen belongs to its previous life.
    """

    priority: Priority
    opened_at: datetime
    ladder_started_at: datetime | None = None
    first_response_at: datetime | None = None
    last_update_at: datetime | None = None
    resolved_at: datetime | None = None
    notified_roles: frozenset[Role] = frozenset()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "priority", Priority(self.priority))
        except ValueError as exc:
            raise SlaError(f"unknown priority {self.priority!r}", key="priority") from exc
        for name in _MOMENTS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, aware_utc(name, value))
        roles = set()
        for role in self.notified_roles:
            try:
                roles.add(role if isinstance(role, Role) else Role.parse(role))
            except SlaError as exc:
                raise SlaError(exc.reason, key="notified_roles") from exc
        object.__setattr__(self, "notified_roles", frozenset(roles))

    @property
    def ladder_start(self) -> datetime:
        """When the escalation ladder runs from: the reopen time, else the logging time."""
        return self.ladder_started_at or self.opened_at


@dataclass(frozen=True)
class Assessment:
    """A ticket's SLA position at one moment; all times are UTC.

    ``next_update_due`` is ``None`` before the first response (the first
    response is what is owed then) and once resolved. ``escalations_due`` are the
    steps to notify now; each keeps its scheduled ``due_at``, which may be in the
    past (after a priority change, or a sweep that ran late). ``next_escalation``
    is the earliest step still to come, for scheduling the next sweep.
    """

    first_response_due: datetime
    first_response_overdue: bool
    next_update_due: datetime | None
    update_overdue: bool
    escalation_plan: tuple[ScheduledEscalation, ...]
    escalations_due: tuple[ScheduledEscalation, ...]
    resolved: bool = False
    next_escalation: ScheduledEscalation | None = None


def assess(
    facts: TicketFacts,
    now: datetime,
    plan: SupportPlan = STANDARD_PLAN,
    calendar: BusinessCalendar = DEFAULT_CALENDAR,
) -> Assessment:
    """What is due, what is overdue and which escalation steps are due at ``now``."""
    now = aware_utc("now", now)
    ladder_start = facts.ladder_start
    reopened = facts.ladder_started_at is not None and facts.ladder_started_at > facts.opened_at
    # A resolution recorded before the reopen belongs to the request's previous life.
    resolved_at = facts.resolved_at
    resolved = (
        resolved_at is not None
        and resolved_at <= now
        and not (reopened and resolved_at < ladder_start)
    )
    responded = _happened(facts.first_response_at, now)

    response_due = first_response_due(facts.priority, facts.opened_at, plan, calendar)
    update_due = None
    if responded and not resolved:
        contacts = [facts.first_response_at, facts.last_update_at]
        if reopened:
            # A reopened request owes updates on its cadence from the reopen,
            # not from a contact made before it was resolved.
            contacts.append(facts.ladder_started_at)
        last_contact = max(m for m in contacts if m is not None and m <= now)
        update_due = next_update_due(facts.priority, last_contact, plan, calendar)

    schedule = escalation_plan(facts.priority, ladder_start, plan)
    pending = () if resolved else tuple(s for s in schedule if s.role not in facts.notified_roles)
    return Assessment(
        first_response_due=response_due,
        first_response_overdue=not responded and not resolved and now > response_due,
        next_update_due=update_due,
        update_overdue=update_due is not None and now > update_due,
        escalation_plan=schedule,
        escalations_due=escalations_due(schedule, now, facts.notified_roles, resolved),
        resolved=resolved,
        next_escalation=next((s for s in pending if s.due_at > now), None),
    )


def _happened(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now
