"""Read-only queries behind the NOC API; routes call these and never build SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from portacare.checks import Status, format_time, parse_time
from portacare.sla import Priority

from .errors import NotFound
from .history import check_history
from .liveness import STATUS_RANK, is_stale, went_quiet
from .models import TICKET_FACTS, CheckState, Escalation, Host, Ticket, TicketEvent
from .settings import TicketRules
from .views import (
    CheckView,
    EscalationView,
    HostView,
    ResultView,
    TicketDetail,
    TicketView,
    TimelineEntry,
)

__all__ = [
    "HostPage",
    "list_hosts",
    "host_checks",
    "check_results",
    "TicketPage",
    "list_tickets",
    "ticket_detail",
]


def _shown_status(host: Host, state: CheckState, now: datetime) -> Status:
    return Status.UNKNOWN if is_stale(host, state, now) else Status(state.status)


def _host(session: Session, name: str) -> Host:
    host = session.scalar(select(Host).where(Host.name == name))
    if host is None:
        raise NotFound(f"no host named {name!r}")
    return host


_BY_RANK = {0: Status.OK, 1: Status.UNKNOWN, 2: Status.WARNING, 3: Status.CRITICAL}
_IN_CHUNK = 500


@dataclass(frozen=True)
class HostPage:
    """One page of the host list and the name the next page starts after (None: the last)."""

    hosts: list[HostView]
    next_after: str | None


def list_hosts(
    session: Session,
    now: datetime,
    *,
    limit: int = 500,
    after: str | None = None,
    customer: str | None = None,
    statuses: frozenset[Status] = frozenset(),
    rules: TicketRules,
) -> HostPage:
    """Hosts by name with their worst current status, a stale check counting as UNKNOWN.

    A page holds up to ``limit`` hosts after the name ``after`` (keyset paging:
    a page costs the same at the end of 40,000 hosts as at the start), of one
    ``customer`` and with a shown status in ``statuses`` when given. Asking only
    for failing statuses lets the database leave out every host that cannot be
    failing (all checks OK and fresh, heard from recently), so "what is wrong
    right now" stays fast however large the fleet. A filtered walk may end with
    an empty page: whether more hosts match is known only by looking.
    """
    query = select(*_HOST_LIST_COLUMNS).order_by(Host.name)
    if customer is not None:
        query = query.where(Host.customer == customer)
    if statuses and Status.OK not in statuses:
        query = query.where(
            or_(
                Host.worst_rank >= 1,
                Host.stale_at < now,
                and_(Host.worst_rank.is_(None), Host.last_seen.is_not(None)),
                Host.last_seen < now - rules.silent_minimum,
            )
        )
    page: list[HostView] = []
    cursor = after
    while True:  # one more row than a page tells whether another page follows
        rows = session.execute(
            (query if cursor is None else query.where(Host.name > cursor)).limit(limit + 1)
        ).all()
        scanned = rows[:limit]
        for row, view in zip(scanned, _host_views(session, scanned, now, rules), strict=True):
            if statuses and Status[view.status] not in statuses:
                continue
            page.append(view)
            if len(page) == limit:
                more = row is not scanned[-1] or len(rows) > limit
                return HostPage(page, row.name if more else None)
        if len(rows) <= limit:
            return HostPage(page, None)
        cursor = scanned[-1].name


_HOST_LIST_COLUMNS = (
    Host.id,
    Host.name,
    Host.customer,
    Host.last_seen,
    Host.interval_s,
    Host.dropped,
    Host.worst_rank,
    Host.stale_at,
)


def _host_views(
    session: Session, hosts: Sequence[Any], now: datetime, rules: TicketRules
) -> list[HostView]:
    """Views of host rows: ingest keeps each host's worst rank and when its first check
    turns stale; only hosts past that moment (or never ranked) have their checks ranked
    again here, in grouped queries."""
    worst = {host.id: host.worst_rank for host in hosts}
    again = [
        h.id
        for h in hosts
        if (h.stale_at is not None and h.stale_at < now)
        or (h.worst_rank is None and h.last_seen is not None)
    ]
    shown = case((CheckState.stale_after < now, 1), else_=STATUS_RANK)
    ranked = select(CheckState.host_id, func.max(shown)).group_by(CheckState.host_id)
    for start in range(0, len(again), _IN_CHUNK):
        chunk = again[start : start + _IN_CHUNK]
        worst.update(dict(session.execute(ranked.where(CheckState.host_id.in_(chunk))).all()))
    views = []
    for host in hosts:
        silent = went_quiet(host.last_seen, host.interval_s, now, rules)
        rank = worst.get(host.id)
        status = Status.OK if rank is None else _BY_RANK[int(rank)]
        views.append(
            HostView(
                host=host.name,
                customer=host.customer,
                last_seen=host.last_seen,
                status=(Status.UNKNOWN if silent and rank is not None else status).name,
                silent=silent,
                dropped_results=host.dropped or {},
            )
        )
    return views


def host_checks(session: Session, host_name: str, now: datetime) -> list[CheckView]:
    host = _host(session, host_name)
    states = session.scalars(
        select(CheckState).where(CheckState.host_id == host.id).order_by(CheckState.check)
    )
    views = []
    for state in states:
        stale = is_stale(host, state, now)
        summary = state.summary
        if stale:
            summary = (
                f"stale: no result since {state.observed_at:%Y-%m-%d %H:%M}Z (last: {summary})"
            )
        views.append(
            CheckView(
                check=state.check,
                status=_shown_status(host, state, now).name,
                summary=summary,
                observed_at=state.observed_at,
                since=state.since,
                stale=stale,
            )
        )
    return views


def check_results(
    session: Session, host_name: str, check: str, since: datetime | None, limit: int
) -> list[ResultView]:
    host = _host(session, host_name)
    return [
        ResultView(
            status=Status(r.status).name,
            summary=r.summary,
            observed_at=r.observed_at,
            metrics=r.metrics or {},
        )
        for r in check_history(session, host.id, check, since, limit)
    ]


def _ticket_view(
    ticket: Any, host_name: str, customer: str | None, escalations: list[Any]
) -> dict[str, Any]:
    """A ticket's fields for the API, from an ORM ticket or a row with the same names."""
    return {
        "number": ticket.id,
        "host": host_name,
        "customer": customer,
        "check": ticket.check,
        "summary": ticket.summary,
        "check_status": Status(ticket.check_status).name,
        "priority": ticket.priority,
        "rt_priority": Priority(ticket.priority).rt_code,
        "state": ticket.state,
        "flapping": ticket.flapping,
        "opened_at": ticket.opened_at,
        "first_response_due": ticket.first_response_due,
        "first_response_at": ticket.first_response_at,
        "next_update_due": ticket.next_update_due,
        "resolved_at": ticket.resolved_at,
        "escalations": [
            EscalationView(role=e.role, due_at=e.due_at, notified_at=e.notified_at)
            for e in sorted(escalations, key=lambda e: (e.due_at, e.role))
        ],
    }


@dataclass(frozen=True)
class TicketPage:
    """One page of the ticket queue and where the next one starts (None: the last)."""

    tickets: list[TicketView]
    next_after: str | None


def ticket_cursor(due: datetime, number: int) -> str:
    """A queue position: a ticket's first-response deadline and its number."""
    return f"{format_time(due)},{number}"


def parse_ticket_cursor(cursor: str) -> tuple[datetime, int]:
    """The inverse of :func:`ticket_cursor`; ValueError for anything else."""
    due, _, number = cursor.rpartition(",")
    if not due or not number.isdigit():
        raise ValueError(f"not a queue position: {cursor!r}")
    return parse_time(due), int(number)


def list_tickets(
    session: Session,
    state: str | None = None,
    host: str | None = None,
    priority: int | None = None,
    limit: int = 100,
    after: tuple[datetime, int] | None = None,
) -> TicketPage:
    """Tickets, most urgent deadline first, ``limit`` at a time after the position ``after``.

    Keyset paging on (deadline, number), like the host list: the hundredth page
    costs what the first does. Plain rows, not ORM objects.
    """
    query = select(
        *TICKET_FACTS, Ticket.resolved_at, Host.name.label("host_name"), Host.customer
    ).join(Host, Host.id == Ticket.host_id)
    if state is not None:
        query = query.where(Ticket.state == state)
    if host is not None:  # by the host's id: the tickets_host_deadline index then applies
        query = query.where(
            Ticket.host_id == select(Host.id).where(Host.name == host).scalar_subquery()
        )
    if priority is not None:
        query = query.where(Ticket.priority == priority)
    if after is not None:
        query = query.where(tuple_(Ticket.first_response_due, Ticket.id) > tuple_(*after))
    rows = session.execute(
        query.order_by(Ticket.first_response_due, Ticket.id).limit(limit + 1)
    ).all()
    more, rows = len(rows) > limit, rows[:limit]
    escalations: dict[int, list[Any]] = defaultdict(list)
    ids = [row.id for row in rows]
    if ids:
        steps = select(
            Escalation.ticket_id, Escalation.role, Escalation.due_at, Escalation.notified_at
        ).where(Escalation.ticket_id.in_(ids))
        for step in session.execute(steps):
            escalations[step.ticket_id].append(step)
    views = [
        TicketView(**_ticket_view(row, row.host_name, row.customer, escalations[row.id]))
        for row in rows
    ]
    last = rows[-1] if rows and more else None
    return TicketPage(views, ticket_cursor(last.first_response_due, last.id) if last else None)


def ticket_detail(session: Session, number: int) -> TicketDetail:
    row = session.execute(
        select(Ticket, Host).join(Host, Host.id == Ticket.host_id).where(Ticket.id == number)
    ).first()
    if row is None:
        raise NotFound(f"no ticket number {number}")
    ticket, host = row
    escalations = list(session.scalars(select(Escalation).where(Escalation.ticket_id == number)))
    timeline = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == number).order_by(TicketEvent.id)
    )
    return TicketDetail(
        **_ticket_view(ticket, host.name, host.customer, escalations),
        timeline=[
            TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, message=e.message) for e in timeline
        ],
    )
