"""Tickets: opened by failing checks, raised, updated, and recorded on a timeline.

Every change to a ticket goes through this module and leaves a timeline entry
saying who, when and why, so a ticket's history can always be read back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portacare.checks import Status
from portacare.sla import (
    STANDARD_PLAN,
    BusinessCalendar,
    Priority,
    SupportPlan,
    escalation_plan,
    first_response_due,
)

from .models import OPEN_STATES, Escalation, Host, Ticket, TicketEvent

__all__ = ["SYSTEM_ACTOR", "find_open_ticket", "open_ticket", "record", "raise_priority"]

SYSTEM_ACTOR = "portacare"


def find_open_ticket(session: Session, host_id: int, check: str) -> Ticket | None:
    """The open (or responded) ticket of (host, check), locked for update."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.host_id == host_id, Ticket.check == check, Ticket.state.in_(OPEN_STATES))
        .with_for_update()
    )


def record(
    session: Session,
    ticket: Ticket,
    kind: str,
    message: str,
    at: datetime,
    actor: str = SYSTEM_ACTOR,
    **data: object,
) -> None:
    """Add one entry to the ticket's timeline."""
    session.add(
        TicketEvent(ticket_id=ticket.id, at=at, kind=kind, actor=actor, message=message, data=data)
    )


def open_ticket(
    session: Session,
    host: Host,
    check: str,
    priority: Priority,
    status: Status,
    summary: str,
    now: datetime,
    plan: SupportPlan = STANDARD_PLAN,
    calendar: BusinessCalendar | None = None,
) -> Ticket:
    """Open a ticket now: request number, due times and escalation ladder from the SLA."""
    due_kwargs = {"calendar": calendar} if calendar is not None else {}
    ticket = Ticket(
        host_id=host.id,
        check=check,
        priority=int(priority),
        state="open",
        summary=summary,
        check_status=int(status),
        opened_at=now,
        ladder_started_at=now,
        first_response_due=first_response_due(priority, now, plan, **due_kwargs),
    )
    session.add(ticket)
    session.flush()  # the request number exists from this moment
    _schedule_escalations(session, ticket, plan)
    record(
        session,
        ticket,
        "opened",
        f"{check} on {host.name} is {status.name}: {summary}",
        now,
        priority=int(priority),
        rt_priority=priority.rt_code,
    )
    return ticket


def raise_priority(
    session: Session,
    ticket: Ticket,
    priority: Priority,
    now: datetime,
    why: str,
    actor: str = SYSTEM_ACTOR,
    plan: SupportPlan = STANDARD_PLAN,
    calendar: BusinessCalendar | None = None,
) -> None:
    """Change the ticket's priority and recompute its due times and escalation ladder."""
    previous = Priority(ticket.priority)
    ticket.priority = int(priority)
    due_kwargs = {"calendar": calendar} if calendar is not None else {}
    ticket.first_response_due = first_response_due(priority, ticket.opened_at, plan, **due_kwargs)
    _schedule_escalations(session, ticket, plan)
    record(
        session,
        ticket,
        "priority_changed",
        why,
        now,
        actor,
        previous=int(previous),
        priority=int(priority),
    )


def _schedule_escalations(session: Session, ticket: Ticket, plan: SupportPlan) -> None:
    """Bring the ticket's escalation rows in line with its priority's ladder.

    Steps already notified stay as they are (a role is paged once per request);
    steps not yet notified take the due time of the current ladder; roles the
    current ladder does not name and that were never notified are dropped.
    """
    planned = {
        str(step.role): step.due_at
        for step in escalation_plan(Priority(ticket.priority), ticket.ladder_started_at, plan)
    }
    existing = {
        e.role: e
        for e in session.scalars(select(Escalation).where(Escalation.ticket_id == ticket.id))
    }
    for role, escalation in existing.items():
        if escalation.notified_at is not None:
            continue
        if role in planned:
            escalation.due_at = planned[role]
        else:
            session.delete(escalation)
    for role, due_at in planned.items():
        if role not in existing:
            session.add(Escalation(ticket_id=ticket.id, role=role, due_at=due_at))
