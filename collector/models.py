"""The collector's tables (SQLAlchemy 2). The schema itself lives in Alembic migrations.

Uniqueness the design depends on is the database's job, never process memory:
one open ticket per (host, check) is a partial unique index, one notification
per escalation step a unique (ticket, role), one stored batch its primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "Host",
    "Token",
    "Batch",
    "HistoryColumns",
    "RecentResult",
    "Result",
    "CheckState",
    "StateEvent",
    "Ticket",
    "TicketEvent",
    "Escalation",
    "OPEN_STATES",
    "TICKET_FACTS",
]

OPEN_STATES = ("open", "responded")
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Host(Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    customer: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime | None]
    interval_s: Mapped[float] = mapped_column(default=60.0)
    check_intervals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: per check: results the agent dropped from a full spool (count, first/last observed)
    dropped: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the host list's fast path, kept at ingest: worst status rank of its checks, and when
    #: the first of them turns stale (from then on the list ranks this host's checks again)
    worst_rank: Mapped[int | None]
    stale_at: Mapped[datetime | None]


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | noc | admin
    name: Mapped[str] = mapped_column(String(200))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Batch(Base):
    """A received batch_id: its primary key makes a re-posted batch a no-op."""

    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    received_at: Mapped[datetime] = mapped_column(index=True)
    accepted: Mapped[int]


class HistoryColumns:
    """A check result as received: the columns both history tables share."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    check: Mapped[str] = mapped_column(String(128))
    status: Mapped[int]
    summary: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[datetime]
    received_at: Mapped[datetime]
    duration_ms: Mapped[int | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RecentResult(HistoryColumns, Base):
    """A result as it arrived, until :mod:`collector.history` files it into ``results``.

    Ingest appends here: the table and its index stay small enough to live in
    memory, where every result written straight into the check-ordered history
    index was a page of its own (see :mod:`collector.history`).
    """

    __tablename__ = "results_recent"
    # by host alone: a group's results come from a few hosts, whose entries each go to the end
    # of that host's run; with (host, check, time) every result had a page of its own again
    __table_args__ = (Index("results_recent_host", "host_id"),)


class Result(HistoryColumns, Base):
    """The history, filed by check: results moved here from ``results_recent`` in runs."""

    __tablename__ = "results"
    __table_args__ = (
        Index("results_host_check_time", "host_id", "check", "observed_at"),
        Index("results_observed_at", "observed_at"),
    )


class CheckState(Base):
    """The latest state of one check on one host."""

    __tablename__ = "check_states"

    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    check: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[int]
    summary: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[datetime]
    since: Mapped[datetime]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ok_streak: Mapped[int] = mapped_column(default=0)
    history: Mapped[dict[str, Any]] = mapped_column(default=dict)  # recent statuses, flapping
    #: a failure whose ticket a silence held back: opened by the sweep when the silence ends
    ticket_pending: Mapped[bool] = mapped_column(default=False)
    #: when this state turns stale (3 of the check's intervals after it was observed),
    #: stored so the host list can rank statuses in one query
    stale_after: Mapped[datetime | None]


class StateEvent(Base):
    """A check changed status: what the ticket policy acts on."""

    __tablename__ = "state_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    check: Mapped[str] = mapped_column(String(128))
    previous_status: Mapped[int | None]
    status: Mapped[int]
    at: Mapped[datetime]


class Ticket(Base):
    """A support request: opened by a failing check (or a person), lives by the SLA."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "tickets_one_open_per_check",
            "host_id",
            "check",
            unique=True,
            sqlite_where=text("state IN ('open', 'responded')"),
            postgresql_where=text("state IN ('open', 'responded')"),
        ),
        Index("tickets_state", "state"),
        Index("tickets_queue", "state", "first_response_due"),
        Index("tickets_deadline", "first_response_due", "id"),
        Index("tickets_host_deadline", "host_id", "first_response_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # the request number
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    check: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    check_status: Mapped[int]
    opened_at: Mapped[datetime]
    ladder_started_at: Mapped[datetime]
    first_response_due: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    next_update_due: Mapped[datetime | None]
    last_update_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    flapping: Mapped[bool] = mapped_column(default=False)
    #: the due times whose lapse the on-duty queue was already told about
    response_overdue_noted: Mapped[datetime | None]
    update_overdue_noted: Mapped[datetime | None]
    #: opened from a result that arrived late (replayed after an outage): announced
    #: by the sweep only if it is still open once the host has caught up
    reported_late: Mapped[bool] = mapped_column(default=False)
    announced: Mapped[bool] = mapped_column(default=True)


class TicketEvent(Base):
    """One line of a ticket's timeline: who did what, when and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Escalation(Base):
    """One escalation step of a ticket: a role to notify at a time, once."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("ticket_id", "role", name="escalations_once_per_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]


class Silence(Base):
    """A maintenance window: no ticket opens and nothing is sent for what it covers."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(253))
    check: Mapped[str | None] = mapped_column(String(128))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Outbox(Base):
    """A notification to deliver, written in the same transaction as what caused it.

    ``dedupe_key`` is unique: the same notification (an escalation step to one
    recipient) can be written only once, whichever collector writes it.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


#: a ticket's columns that lists and notifications show, for reading many as plain rows
TICKET_FACTS = (
    Ticket.id,
    Ticket.priority,
    Ticket.check,
    Ticket.check_status,
    Ticket.summary,
    Ticket.state,
    Ticket.flapping,
    Ticket.opened_at,
    Ticket.first_response_due,
    Ticket.first_response_at,
    Ticket.next_update_due,
)
