"""Storing a batch of results: all of it in one transaction, or none of it.

One transaction holds the batch's id (its primary key makes a re-post a
no-op), the history rows, the latest state of each (host, check), the state
changes, and what the ticket policy does about them. A race with another
collector over the same check or ticket surfaces as a unique-constraint
violation and the whole batch is simply tried again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portacare.checks import Status, format_time

from .errors import Unavailable
from .latest_state import advance, first_state
from .liveness import STATUS_RANK, silent_after, stale_allowance
from .models import OPEN_STATES, Batch, CheckState, Host, RecentResult, StateEvent, Ticket
from .policy import SILENT_CHECK
from .settings import Settings
from .sweep import on_host_heard
from .ticket_policy import on_result
from .tokens import Principal
from .wire import BatchAccepted, BatchIn, DroppedIn, ResultIn

__all__ = [
    "ingest_batch",
    "is_unreachable",
    "note_agent",
    "batch_row",
    "history_row",
    "state_event_row",
    "merge_dropped",
]

log = logging.getLogger("portacare.collector.ingest")
_ATTEMPTS = 5


class _DuplicateBatch(Exception):
    pass


def ingest_batch(
    factory: sessionmaker[Session],
    principal: Principal,
    batch: BatchIn,
    settings: Settings,
    now: datetime,
) -> BatchAccepted:
    """Store ``batch`` for the principal's host exactly once."""
    assert principal.host_id is not None, "only agent tokens push results"
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with factory() as session, session.begin():
                accepted = _store(session, principal.host_id, batch, settings, now)
            return BatchAccepted(accepted=accepted, duplicate=False)
        except _DuplicateBatch:
            return BatchAccepted(accepted=0, duplicate=True)
        except IntegrityError:
            if _already_stored(factory, batch.batch_id):
                return BatchAccepted(accepted=0, duplicate=True)
            if attempt == _ATTEMPTS:
                raise
            log.info("batch %s raced another writer; retrying (%d)", batch.batch_id, attempt)
        except DBAPIError as exc:
            if _is_transient(exc) and attempt < _ATTEMPTS:
                log.info("batch %s met a deadlock; retrying (%d)", batch.batch_id, attempt)
                continue
            if exc.connection_invalidated or is_unreachable(exc):
                raise Unavailable(f"database unavailable: {exc.orig}") from exc
            raise
    raise AssertionError("unreachable")


def _already_stored(factory: sessionmaker[Session], batch_id: str) -> bool:
    with factory() as session:
        return session.get(Batch, batch_id) is not None


def _is_transient(exc: DBAPIError) -> bool:
    """A deadlock or serialization failure: the database asks for the transaction again."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"40P01", "40001"} or "database is locked" in str(exc.orig)


def is_unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(s in text for s in ("connection refused", "could not connect", "server closed"))


def _store(
    session: Session, host_id: int, batch: BatchIn, settings: Settings, now: datetime
) -> int:
    # The host row is locked first: every writer for one host queues here, in one order,
    # so two collectors storing batches of the same host cannot deadlock further on.
    host = session.get(Host, host_id, with_for_update=True)
    assert host is not None
    session.add(Batch(**batch_row(host_id, batch, now)))
    try:
        session.flush()
    except IntegrityError as exc:
        raise _DuplicateBatch from exc
    host.customer = settings.customer_of(host.name, host.customer)  # its notices go to them
    checks = {r.check for r in batch.results}
    # one query for the open tickets of the batch's checks and of the host's silence
    tickets: dict[str, Ticket | None] = {
        t.check: t
        for t in session.scalars(
            select(Ticket)
            .where(
                Ticket.host_id == host_id,
                Ticket.check.in_(checks | {SILENT_CHECK}),
                Ticket.state.in_(OPEN_STATES),
            )
            .with_for_update()
        )
    }
    silent_ticket = tickets.pop(SILENT_CHECK, None)
    if silent_ticket is not None:
        on_host_heard(session, host, silent_ticket, settings, now)
    note_agent(host, batch, settings, now)
    if not batch.results:
        return 0
    session.execute(insert(RecentResult), [history_row(host_id, r, now) for r in batch.results])
    states = {
        s.check: s
        for s in session.scalars(
            select(CheckState)
            .where(CheckState.host_id == host_id, CheckState.check.in_(checks))
            .with_for_update()
        )
    }
    late_after = silent_after(host, settings.tickets)
    with session.no_autoflush:  # one flush at commit, not one per result
        _apply_all(session, host, batch, settings, now, states, tickets, late_after)
    session.flush()
    host.worst_rank, host.stale_at = session.execute(
        select(func.max(STATUS_RANK), func.min(CheckState.stale_after)).where(
            CheckState.host_id == host_id
        )
    ).one()
    return len(batch.results)


def _apply_all(
    session: Session,
    host: Host,
    batch: BatchIn,
    settings: Settings,
    now: datetime,
    states: dict[str, CheckState],
    tickets: dict[str, Ticket | None],
    late_after: timedelta,
) -> None:
    for result in sorted(batch.results, key=lambda r: r.observed_at):
        allowance = stale_allowance(host, result.check, settings.tickets)
        state, previous, changed = _apply_latest(
            session, host, states.get(result.check), result, allowance
        )
        if state is None:
            continue
        states[result.check] = state
        late = now - result.observed_at > late_after
        tickets[result.check] = on_result(
            session, host, state, previous, changed, settings, now, tickets.get(result.check), late
        )


def note_agent(host: Any, batch: BatchIn, settings: Settings, now: datetime) -> None:
    """What every batch tells about its host: its customer, seen now, intervals, drops.

    ``host`` is a ``Host`` or the bulk path's plain row with the same attributes.
    """
    host.customer = settings.customer_of(host.name, host.customer)
    host.last_seen = now if host.last_seen is None else max(host.last_seen, now)
    host.interval_s = batch.agent.interval_s
    if batch.agent.check_intervals:
        host.check_intervals = {**(host.check_intervals or {}), **batch.agent.check_intervals}
    if batch.agent.dropped:
        host.dropped = merge_dropped(host.dropped or {}, batch.agent.dropped)


def merge_dropped(known: dict[str, Any], reported: dict[str, DroppedIn]) -> dict[str, Any]:
    """Add an agent's report of results it had to drop (a full spool) to the host's tally."""
    merged = dict(known)
    for check, report in reported.items():
        previous = merged.get(check, {})
        merged[check] = {
            "count": int(previous.get("count", 0)) + report.count,
            "first_observed_at": previous.get("first_observed_at")
            or format_time(report.first_observed_at),
            "last_observed_at": format_time(report.last_observed_at),
        }
    return merged


def batch_row(host_id: int, batch: BatchIn, now: datetime) -> dict[str, Any]:
    """The columns of a received batch's id row (its primary key makes a re-post a no-op)."""
    return {
        "batch_id": batch.batch_id,
        "host_id": host_id,
        "received_at": now,
        "accepted": len(batch.results),
    }


def state_event_row(host_id: int, result: ResultIn, previous: Status | None) -> dict[str, Any]:
    """The columns of a state change: a check went from ``previous`` (None: new) to the result's."""
    return {
        "host_id": host_id,
        "check": result.check,
        "previous_status": None if previous is None else int(previous),
        "status": int(result.status),
        "at": result.observed_at,
    }


def history_row(host_id: int, result: ResultIn, now: datetime) -> dict[str, object]:
    return {
        "host_id": host_id,
        "check": result.check,
        "status": int(result.status),
        "summary": result.summary,
        "observed_at": result.observed_at,
        "received_at": now,
        "duration_ms": result.duration_ms,
        "metrics": result.metrics,
        "details": result.details,
    }


def _apply_latest(
    session: Session,
    host: Host,
    state: CheckState | None,
    result: ResultIn,
    allowance: timedelta,
) -> tuple[CheckState | None, Status | None, bool]:
    """Move the latest state forward: (state, previous status, changed).

    An older result never overwrites a newer one: it stays in the history
    only, and ``state`` comes back as None.
    """
    new = state is None
    if state is None:
        state = CheckState(**first_state(host.id, result).values())
        session.add(state)
    elif result.observed_at < state.observed_at:
        return None, None, False
    previous, changed = advance(state, result, allowance, new=new)
    if changed:
        session.add(StateEvent(**state_event_row(host.id, result, previous)))
    return state, previous, changed
