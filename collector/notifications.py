"""Composing notifications into the outbox, in the caller's transaction.

Each notification is one outbox row per recipient. Its ``dedupe_key`` is
unique, so the same step (an escalation to one role's contact, an overdue
notice for one due time) can be written once only, whichever collector
process gets there first. Delivery is :mod:`portacare.collector.delivery`'s job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portacare.checks import Status, format_time
from portacare.sla import Priority, Role

from . import jsontext
from .models import Host, Outbox, Ticket
from .settings import Settings

__all__ = [
    "TicketFacts",
    "HostFacts",
    "channel_of",
    "notify",
    "notify_opened",
    "notify_resolved",
    "describe_age",
    "write_queued",
]

_ROLE_LABELS = {
    "on_duty": "Technical Support Engineer (on duty)",
    "customer": "customer contact",
    **{str(role): role.label for role in Role},
}


class TicketFacts(Protocol):
    """What a notification says about a ticket: a ``Ticket``, or a row of its columns."""

    @property
    def id(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def check(self) -> str: ...
    @property
    def check_status(self) -> int: ...
    @property
    def summary(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def flapping(self) -> bool: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def first_response_due(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def next_update_due(self) -> datetime | None: ...


class HostFacts(Protocol):
    """What a notification says about a host."""

    @property
    def name(self) -> str: ...
    @property
    def customer(self) -> str | None: ...


def channel_of(recipient: str) -> str:
    """``webhook`` for an http(s) URL, ``email`` otherwise."""
    return "webhook" if recipient.startswith(("http://", "https://")) else "email"


def describe_age(delta: timedelta) -> str:
    """'1 h 1 min' style, for people."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p)


def notify(
    session: Session,
    settings: Settings,
    ticket: TicketFacts,
    host: HostFacts,
    kind: str,
    audiences: list[str],
    now: datetime,
    *,
    discriminator: str = "",
    headline: str,
    lines: list[str] | None = None,
) -> int:
    """Queue one outbox row per recipient of ``audiences``; returns how many were queued.

    The rows are written when the transaction commits (:func:`write_queued`).

    ``audiences`` are role keys (``on_duty``, ``technical_support_manager``, …)
    or ``customer`` for the host's customer's own contacts.
    """
    priority = Priority(ticket.priority)
    subject = f"[PortaCare #{ticket.id}] P{int(priority)} {host.name} {ticket.check}: {headline}"
    body_lines = [
        headline,
        "",
        f"Request number: {ticket.id}",
        f"Priority:       P{int(priority)} (RT priority {priority.rt_code})",
        f"Host:           {host.name}" + (f" (customer {host.customer})" if host.customer else ""),
        f"Check:          {ticket.check} is {Status(ticket.check_status).name}",
        f"Summary:        {ticket.summary}",
        f"Opened:         {format_time(ticket.opened_at)} "
        f"({describe_age(now - ticket.opened_at)} ago)",
        f"First response: due {format_time(ticket.first_response_due)}"
        + (f", given {format_time(ticket.first_response_at)}" if ticket.first_response_at else ""),
    ]
    if ticket.next_update_due is not None:
        body_lines.append(f"Next update:    due {format_time(ticket.next_update_due)}")
    body_lines += ["", *(lines or [])]
    body = "\n".join(body_lines).rstrip() + "\n"
    payload: dict[str, Any] = {
        "event": kind,
        "text": f"{subject}\n{headline}",
        "ticket": {
            "number": ticket.id,
            "host": host.name,
            "customer": host.customer,
            "check": ticket.check,
            "priority": int(priority),
            "rt_priority": priority.rt_code,
            "state": ticket.state,
            "summary": ticket.summary,
            "opened_at": format_time(ticket.opened_at),
            "first_response_due": format_time(ticket.first_response_due),
        },
    }
    recipients = {
        recipient: audience
        for audience in audiences
        for recipient in settings.contacts_for(audience, host.customer)
    }
    queue = session.info.setdefault(OUTBOX_QUEUE, [])
    for recipient, audience in recipients.items():
        queue.append(
            {
                "dedupe_key": f"{kind}:{ticket.id}:{discriminator}:{recipient}"[:300],
                "ticket_id": ticket.id,
                "kind": kind,
                "channel": channel_of(recipient),
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "payload": {**payload, "audience": _ROLE_LABELS.get(audience, audience)},
                "created_at": now,
                "attempts": 0,
            }
        )
    return len(recipients)


OUTBOX_QUEUE = "portacare.outbox"


def write_queued(session: Session) -> None:
    """Insert the notifications queued in this transaction, skipping any already written.

    Runs just before commit: one executemany, and ``ON CONFLICT DO NOTHING``
    on the dedupe key makes a notification that another collector (or an earlier
    sweep) already wrote a no-op instead of an error that would undo the transaction.
    """
    rows = session.info.pop(OUTBOX_QUEUE, None)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) >= COPY_FROM:
        _copy_to_outbox(session, rows)
        return
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Outbox).on_conflict_do_nothing(index_elements=["dedupe_key"])
    session.execute(statement, rows)


#: from this many rows on (a sweep after an outage), PostgreSQL gets them by COPY
COPY_FROM = 200


def _copy_to_outbox(session: Session, rows: list[dict[str, Any]]) -> None:
    """``COPY`` into a temporary table, then one ``INSERT ... ON CONFLICT DO NOTHING``.

    The same rows and the same dedupe rule as the executemany, at a third less time for
    thousands of rows (7,443 notifications: 0.33–0.36 s against 0.49–0.62 s here).
    """
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    encode = [jsontext.dumps if name == "payload" else None for name in columns]
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS outbox_incoming ON COMMIT DELETE ROWS "
            f"AS SELECT {names} FROM outbox WITH NO DATA"
        )
        with cursor.copy(f"COPY outbox_incoming ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[n] if e is None else e(row[n])
                        for n, e in zip(columns, encode, strict=True)
                    ]
                )
        cursor.execute(
            f"INSERT INTO outbox ({names}) SELECT {names} FROM outbox_incoming "
            "ON CONFLICT (dedupe_key) DO NOTHING"
        )


def notify_opened(
    session: Session, settings: Settings, ticket: Ticket, host: Host, now: datetime, headline: str
) -> int:
    """The Request Tracker style auto-reply: the customer and on-duty learn the request number."""
    return notify(
        session,
        settings,
        ticket,
        host,
        "opened",
        ["customer", "on_duty"],
        now,
        headline=headline,
        lines=[f"Please quote request number {ticket.id} in any reply."],
    )


def notify_resolved(
    session: Session, settings: Settings, ticket: Ticket, host: Host, now: datetime, message: str
) -> int:
    """The customer and on-duty learn that (and why) the request was resolved."""
    return notify(
        session,
        settings,
        ticket,
        host,
        "resolved",
        ["customer", "on_duty"],
        now,
        discriminator=now.isoformat(),
        headline=message,
    )
