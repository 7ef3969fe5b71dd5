"""Tickets: opened by failing checks, changed by people and by the SLA's clock.

Every change goes through this module and leaves a timeline entry saying who,
when and why, so a ticket's history can always be read back. State rules:

    open ──respond──> responded ──resolve──> resolved ──close──> closed
      └──────────────resolve─────────────────┘   └──reopen──> open/responded
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portacare.checks import Status
from portacare.sla import (
    BusinessCalendar,
    Priority,
    SupportPlan,
    escalation_plan,
    first_response_due,
    next_update_due,
)

from .errors import Conflict, NotFound
from .models import OPEN_STATES, Escalation, Host, Ticket, TicketEvent
from .settings import Settings

__all__ = [
    "SYSTEM_ACTOR",
    "Terms",
    "terms_for",
    "find_open_ticket",
    "get_ticket",
    "record",
    "open_ticket",
    "change_priority",
    "respond",
    "post_update",
    "resolve",
    "close",
    "reopen",
]

SYSTEM_ACTOR = "portacare"


@dataclass(frozen=True)
class Terms:
    """The support plan and business calendar a ticket's customer has."""

    plan: SupportPlan
    calendar: BusinessCalendar


def terms_for(settings: Settings, host: Host) -> Terms:
    return Terms(settings.plan_for(host.customer), settings.calendar_for(host.customer))


def find_open_ticket(session: Session, host_id: int, check: str) -> Ticket | None:
    """The open (or responded) ticket of (host, check), locked for update."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.host_id == host_id, Ticket.check == check, Ticket.state.in_(OPEN_STATES))
        .with_for_update()
    )


def get_ticket(session: Session, number: int) -> Ticket:
    """The ticket with this request number, locked for update; NotFound otherwise."""
    ticket = session.scalar(select(Ticket).where(Ticket.id == number).with_for_update())
    if ticket is None:
        raise NotFound(f"no ticket number {number}")
    return ticket


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
    session.add(TicketEvent(**timeline_row(ticket.id, kind, message, at, actor, **data)))


def timeline_row(
    ticket_id: int,
    kind: str,
    message: str,
    at: datetime,
    actor: str = SYSTEM_ACTOR,
    **data: object,
) -> dict[str, Any]:
    """The columns of one timeline entry, for :func:`record` or a many-row insert."""
    return {
        "ticket_id": ticket_id,
        "at": at,
        "kind": kind,
        "actor": actor,
        "message": message,
        "data": data,
    }


def open_ticket(
    session: Session,
    host: Host,
    check: str,
    priority: Priority,
    status: Status,
    summary: str,
    now: datetime,
    terms: Terms,
) -> Ticket:
    """Open a ticket now: request number, due times and escalation ladder from the SLA."""
    ticket = Ticket(
        host_id=host.id,
        check=check,
        priority=int(priority),
        state="open",
        summary=summary,
        check_status=int(status),
        opened_at=now,
        ladder_started_at=now,
        first_response_due=first_response_due(priority, now, terms.plan, terms.calendar),
    )
    session.add(ticket)
    session.flush()  # the request number exists from this moment
    _schedule_escalations(session, ticket, terms.plan)
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


def change_priority(
    session: Session,
    ticket: Ticket,
    priority: Priority,
    now: datetime,
    why: str,
    terms: Terms,
    actor: str = SYSTEM_ACTOR,
) -> None:
    """Set a new priority and recompute every due time and the escalation ladder.

    The new priority's targets and ladder run from the original logging time;
    escalation steps already notified are never repeated.
    """
    _require(ticket, OPEN_STATES, "change the priority of")
    previous = Priority(ticket.priority)
    if priority == previous:
        raise Conflict(f"ticket {ticket.id} already has priority {int(priority)}")
    ticket.priority = int(priority)
    ticket.first_response_due = first_response_due(
        priority, ticket.opened_at, terms.plan, terms.calendar
    )
    last_contact = ticket.last_update_at or ticket.first_response_at
    if last_contact is not None:
        ticket.next_update_due = next_update_due(priority, last_contact, terms.plan, terms.calendar)
    _schedule_escalations(session, ticket, terms.plan)
    direction = "raised" if priority < previous else "lowered"
    record(
        session,
        ticket,
        "priority_changed",
        why,
        now,
        actor,
        previous=int(previous),
        priority=int(priority),
        direction=direction,
    )


def respond(
    session: Session, ticket: Ticket, now: datetime, why: str, actor: str, terms: Terms
) -> None:
    """The first response to the customer: starts the update clock."""
    _require(ticket, ("open",), "respond to")
    if ticket.first_response_at is not None:
        raise Conflict(f"ticket {ticket.id} already had its first response")
    ticket.state = "responded"
    ticket.first_response_at = now
    ticket.next_update_due = next_update_due(
        Priority(ticket.priority), now, terms.plan, terms.calendar
    )
    record(session, ticket, "responded", why, now, actor)


def post_update(
    session: Session, ticket: Ticket, now: datetime, why: str, actor: str, terms: Terms
) -> None:
    """A progress update to the customer: the next one falls due a cadence later."""
    _require(ticket, ("responded",), "update")
    ticket.last_update_at = now
    ticket.next_update_due = next_update_due(
        Priority(ticket.priority), now, terms.plan, terms.calendar
    )
    record(session, ticket, "updated", why, now, actor)


def resolve(session: Session, ticket: Ticket, now: datetime, why: str, actor: str) -> None:
    """The request is resolved: no more updates or escalations fall due."""
    _require(ticket, OPEN_STATES, "resolve")
    ticket.state = "resolved"
    ticket.resolved_at = now
    ticket.next_update_due = None
    record(session, ticket, "resolved", why, now, actor)


def close(session: Session, ticket: Ticket, now: datetime, why: str, actor: str) -> None:
    """The customer agreed it is done: a closed ticket never reopens."""
    _require(ticket, ("resolved",), "close")
    ticket.state = "closed"
    ticket.closed_at = now
    record(session, ticket, "closed", why, now, actor)


def reopen(
    session: Session, ticket: Ticket, now: datetime, why: str, actor: str, terms: Terms
) -> None:
    """Reopen a resolved ticket: its ladder runs again from now, roles already paged stay paged."""
    _require(ticket, ("resolved",), "reopen")
    ticket.state = "responded" if ticket.first_response_at is not None else "open"
    ticket.resolved_at = None
    ticket.ladder_started_at = now
    if ticket.first_response_at is not None:
        ticket.next_update_due = next_update_due(
            Priority(ticket.priority), now, terms.plan, terms.calendar
        )
    _schedule_escalations(session, ticket, terms.plan)
    record(session, ticket, "reopened", why, now, actor)


def _require(ticket: Ticket, states: tuple[str, ...], action: str) -> None:
    if ticket.state not in states:
        raise Conflict(
            f"cannot {action} ticket {ticket.id}: it is {ticket.state} "
            f"(allowed when {' or '.join(states)})"
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
    session.flush()  # steps added earlier in this transaction must be seen, not added twice
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


ACTIONS = ("respond", "update", "resolve", "close", "reopen", "priority")


def apply_action(
    session: Session,
    settings: Settings,
    number: int,
    action: str,
    message: str,
    actor: str,
    now: datetime,
    priority: Priority | None = None,
) -> Ticket:
    """A person's lifecycle action on ticket ``number``; Conflict where its state forbids it."""
    ticket = get_ticket(session, number)
    host = session.get(Host, ticket.host_id)
    assert host is not None
    terms = terms_for(settings, host)
    if action == "respond":
        respond(session, ticket, now, message, actor, terms)
    elif action == "update":
        post_update(session, ticket, now, message, actor, terms)
    elif action == "resolve":
        resolve(session, ticket, now, message, actor)
    elif action == "close":
        close(session, ticket, now, message, actor)
    elif action == "reopen":
        reopen(session, ticket, now, message, actor, terms)
    elif action == "priority":
        assert priority is not None, "a priority change names the new priority"
        change_priority(session, ticket, priority, now, message, terms, actor)
    else:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    return ticket
