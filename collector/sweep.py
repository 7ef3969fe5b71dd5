"""The time-driven half of the ticket policy: what falls due while nobody posts anything.

One sweep, as of a moment ``now`` (``portacare-collector sweep --at T`` or every
30 s inside ``serve``):

1. silent agents get a ticket (and hosts heard from again resolve theirs at ingest);
2. failures a silence held back open their ticket once the silence is over;
3. tickets whose check has been OK long enough resolve themselves;
4. escalation steps due now notify their role, once: the step's ``notified_at``
   is claimed in the same transaction that writes its outbox rows;
5. first responses and updates overdue are told to the on-duty queue, once per due time.

Every part locks the rows it works on (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so any number of collectors may sweep at once and each step is done once.
Sweeping twice at the same moment finds nothing new to do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from portacare.checks import Status, format_time
from portacare.sla import Priority, Role

from .db import transaction
from .liveness import is_silent, silent_after
from .models import OPEN_STATES, TICKET_FACTS, CheckState, Escalation, Host, Ticket, TicketEvent
from .notifications import (
    HostFacts,
    TicketFacts,
    describe_age,
    notify,
    notify_opened,
    notify_resolved,
)
from .policy import SILENT_CHECK, priority_for
from .settings import Settings
from .silences import SilenceIndex, active_silence
from .ticket_policy import announce, maybe_auto_resolve, open_for_failure
from .tickets import (
    SYSTEM_ACTOR,
    find_open_ticket,
    open_ticket,
    record,
    resolve,
    terms_for,
    timeline_row,
)

__all__ = ["SweepReport", "run_sweep", "on_host_heard"]

_CHUNK = 1000


@dataclass
class SweepReport:
    """What one sweep did."""

    silent_opened: int = 0
    held_opened: int = 0
    auto_resolved: int = 0
    late_announced: int = 0
    escalations: int = 0
    overdue_notices: int = 0

    def describe(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}" for f in fields(self)
        )


@dataclass(frozen=True)
class SweepRun:
    """What every part of one sweep works with."""

    factory: sessionmaker[Session]
    settings: Settings
    now: datetime
    report: SweepReport
    silences: SilenceIndex


def run_sweep(factory: sessionmaker[Session], settings: Settings, now: datetime) -> SweepReport:
    """Do everything that is due at ``now``."""
    report = SweepReport()
    with transaction(factory) as session:
        _silent_agents(session, settings, now, report)
    with factory() as session:
        run = SweepRun(factory, settings, now, report, SilenceIndex.load(session, now))
    for part in (_held_failures, _auto_resolve, _announce_late, _escalations, _overdue):
        part(run)
    return report


def on_host_heard(
    session: Session, host: Host, ticket: Ticket, settings: Settings, now: datetime
) -> None:
    """A batch arrived from a host with an open silent-agent ticket: it resolves."""
    quiet = describe_age(now - host.last_seen) if host.last_seen else "a while"
    message = f"agent reporting again after {quiet} of silence"
    resolve(session, ticket, now, message, SYSTEM_ACTOR)
    notify_resolved(session, settings, ticket, host, now, message)


def _chunks(
    factory: sessionmaker[Session], query: Any, key: Any, lock: Any, *, plain: bool = False
) -> Iterator[tuple[Session, Sequence[Any]]]:
    """Rows of ``query`` in key order, ``_CHUNK`` per transaction, each chunk locked.

    ``FOR UPDATE OF lock SKIP LOCKED``: another collector sweeping at the same
    moment takes other rows. A cursor on ``key`` moves past rows a part leaves
    as they are (held back by a silence), so every due row is seen once. The
    query's first item is ``key``'s entity, or with ``plain`` the key column itself.
    """
    cursor = None
    while True:
        with transaction(factory) as session:
            page = query if cursor is None else query.where(key > cursor)
            rows = session.execute(
                page.order_by(key).limit(_CHUNK).with_for_update(skip_locked=True, of=lock)
            ).all()
            if rows:
                yield session, rows
        if len(rows) < _CHUNK:
            return
        cursor = rows[-1][0] if plain else getattr(rows[-1][0], key.key)


def _silent_agents(
    session: Session, settings: Settings, now: datetime, report: SweepReport
) -> None:
    rules = settings.tickets
    open_silent = select(Ticket.host_id).where(
        Ticket.check == SILENT_CHECK, Ticket.state.in_(OPEN_STATES)
    )
    candidates = session.scalars(
        select(Host).where(Host.last_seen.is_not(None), Host.id.not_in(open_silent))
    ).all()
    priority = priority_for(SILENT_CHECK, Status.CRITICAL, settings.priorities) or Priority.P2
    for host in candidates:
        if not is_silent(host, now, rules) or host.last_seen is None:
            continue
        if active_silence(session, host.customer, host.name, None, now) is not None:
            continue
        summary = (
            f"no results from the agent since {format_time(host.last_seen)} "
            f"({describe_age(now - host.last_seen)}; "
            f"silent after {describe_age(silent_after(host, rules))})"
        )
        ticket = open_ticket(
            session,
            host,
            SILENT_CHECK,
            priority,
            Status.CRITICAL,
            summary,
            now,
            terms_for(settings, host),
        )
        notify_opened(session, settings, ticket, host, now, f"agent silent: {summary}")
        report.silent_opened += 1


def _held_failures(run: SweepRun) -> None:
    # few rows (failures a silence held back), so one transaction: (host, check) has no
    # single-column key for the chunk cursor
    query = (
        select(CheckState, Host)
        .join(Host, Host.id == CheckState.host_id)
        .where(CheckState.ticket_pending.is_(True))
        .with_for_update(skip_locked=True, of=CheckState)
    )
    with transaction(run.factory) as session:
        for state, host in session.execute(query).all():
            if Status(state.status) is Status.OK:
                state.ticket_pending = False
                continue
            if run.silences.covers(host.customer, host.name, state.check):
                continue
            if find_open_ticket(session, host.id, state.check) is None:
                ticket = open_for_failure(session, host, state, run.settings, run.now)
                record(
                    session,
                    ticket,
                    "note",
                    "the silence that held this failure back has ended",
                    run.now,
                )
                run.report.held_opened += 1
            state.ticket_pending = False


def _auto_resolve(run: SweepRun) -> None:
    query = (
        select(Ticket, Host, CheckState)
        .join(Host, Host.id == Ticket.host_id)
        .join(
            CheckState, (CheckState.host_id == Ticket.host_id) & (CheckState.check == Ticket.check)
        )
        .where(Ticket.state.in_(OPEN_STATES), CheckState.status == int(Status.OK))
    )
    for session, rows in _chunks(run.factory, query, Ticket.id, Ticket):
        for ticket, host, state in rows:
            if maybe_auto_resolve(session, host, state, ticket, run.settings, run.now):
                run.report.auto_resolved += 1


def _announce_late(run: SweepRun) -> None:
    """Late tickets still open once their host has caught up get their opening notice run.now."""
    query = (
        select(Ticket, Host)
        .join(Host, Host.id == Ticket.host_id)
        .where(Ticket.state.in_(OPEN_STATES), Ticket.announced.is_(False))
    )
    for session, rows in _chunks(run.factory, query, Ticket.id, Ticket):
        for ticket, host in rows:
            state = session.get(CheckState, (ticket.host_id, ticket.check))
            caught_up = state is not None and run.now - state.observed_at <= silent_after(
                host, run.settings.tickets
            )
            if caught_up and not _held_back(ticket, host, run.silences):
                announce(session, run.settings, ticket, host, run.now)
                run.report.late_announced += 1


def _held_back(ticket: TicketFacts, host: HostFacts, silences: SilenceIndex) -> bool:
    """Notifications wait while the ticket flaps or a silence covers its check."""
    check = None if ticket.check == SILENT_CHECK else ticket.check
    return ticket.flapping or silences.covers(host.customer, host.name, check)


def _escalations(run: SweepRun) -> None:
    query = (
        select(
            Escalation.id.label("step_id"),
            Escalation.role.label("step_role"),
            Escalation.due_at.label("step_due_at"),
            *TICKET_FACTS,
            *_HOST_FACTS,
        )
        .select_from(Escalation)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .join(Host, Host.id == Ticket.host_id)
        .where(
            Escalation.notified_at.is_(None),
            Escalation.due_at <= run.now,
            Ticket.state.in_(OPEN_STATES),
        )
    )
    for session, rows in _chunks(run.factory, query, Escalation.id, Escalation, plain=True):
        notified, timeline = [], []
        for ticket in rows:  # a plain row: the step's and the ticket's columns, the host's
            host = _host_of(ticket)
            if _held_back(ticket, host, run.silences):
                continue
            notified.append(ticket.step_id)
            role = Role(ticket.step_role)
            age = describe_age(run.now - ticket.opened_at)
            notify(
                session,
                run.settings,
                ticket,
                host,
                "escalation",
                [ticket.step_role],
                run.now,
                discriminator=ticket.step_role,
                headline=f"escalation to {role.label}: P{ticket.priority} unresolved for {age}",
                lines=[
                    f"Escalation step due {format_time(ticket.step_due_at)}.",
                    *_overdue_lines(ticket, run.now),
                ],
            )
            timeline.append(
                timeline_row(
                    ticket.id,
                    "escalated",
                    f"{role.label} notified ({age} unresolved)",
                    run.now,
                    role=ticket.step_role,
                )
            )
            run.report.escalations += 1
        if notified:
            session.execute(
                update(_ESCALATIONS)
                .where(_ESCALATIONS.c.id.in_(notified))
                .values(notified_at=run.now)
            )
        if timeline:
            session.execute(insert(_TIMELINE), timeline)


#: hundreds of steps or notices fall due in one sweep after an outage: their marks are
#: written with one statement per chunk, not as ORM objects flushed one by one
_ESCALATIONS = cast(Table, Escalation.__table__)
_TICKETS = cast(Table, Ticket.__table__)
_TIMELINE = cast(Table, TicketEvent.__table__)

#: what notifications say about a ticket and its host, read as plain columns: a sweep after
#: an outage reads thousands of due rows, which as ORM objects cost more than all the rest
_HOST_FACTS = (Host.name.label("host_name"), Host.customer.label("host_customer"))


@dataclass(frozen=True, slots=True)
class _Host:
    name: str
    customer: str | None


def _host_of(row: Any) -> _Host:
    return _Host(row.host_name, row.host_customer)


def _overdue_lines(ticket: TicketFacts, now: datetime) -> list[str]:
    lines = []
    if ticket.first_response_at is None and ticket.first_response_due <= now:
        lines.append(f"First response overdue by {describe_age(now - ticket.first_response_due)}.")
    if ticket.next_update_due is not None and ticket.next_update_due <= now:
        lines.append(f"Customer update overdue by {describe_age(now - ticket.next_update_due)}.")
    return lines


def _overdue(run: SweepRun) -> None:
    """Tell the on-duty queue once per due time that a first response or an update is late."""
    duties = (
        ("open", Ticket.first_response_due, "response_overdue_noted", "first response"),
        ("responded", Ticket.next_update_due, "update_overdue_noted", "customer update"),
    )
    for state, due_column, noted, what in duties:
        noted_column = getattr(Ticket, noted)
        query = (
            select(*TICKET_FACTS, *_HOST_FACTS)
            .join(Host, Host.id == Ticket.host_id)
            .where(
                Ticket.state == state,
                due_column <= run.now,
                noted_column.is_(None) | (noted_column != due_column),
            )
        )
        if state == "open":
            query = query.where(Ticket.first_response_at.is_(None))
        for session, rows in _chunks(run.factory, query, Ticket.id, Ticket, plain=True):
            marks = []
            for ticket in rows:
                host = _host_of(ticket)
                due = getattr(ticket, due_column.key)
                if due is None or _held_back(ticket, host, run.silences):
                    continue
                marks.append(ticket.id)
                notify(
                    session,
                    run.settings,
                    ticket,
                    host,
                    noted.replace("_noted", ""),
                    ["on_duty"],
                    run.now,
                    discriminator=format_time(due),
                    headline=f"{what} overdue by {describe_age(run.now - due)}",
                )
                run.report.overdue_notices += 1
            if marks:  # noted = the due time it was told about, for the whole chunk at once
                session.execute(
                    update(_TICKETS)
                    .where(_TICKETS.c.id.in_(marks))
                    .values({noted: _TICKETS.c[due_column.key]})
                )
