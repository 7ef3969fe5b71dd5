"""What a check's results do to its ticket: open, reopen, raise, note, resolve, hold back.

Called for every result applied to the latest state (changed or not): the
flap detector and the auto-resolve confirmation both count results.

- A change to WARNING/CRITICAL/UNKNOWN opens a ticket at the policy's priority,
  or reopens the same ticket when it was resolved within the reopen window.
- While a silence covers the check no ticket opens; the failure is remembered
  (``ticket_pending``) and the sweep opens it if it still fails at the end.
- A ticket resolves itself after enough consecutive OK results over enough
  time, silence or not, and says so on its timeline.
- A flapping check's ticket is marked; its notifications wait until it settles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portacare.checks import Status, format_time
from portacare.sla import Priority

from .latest_state import track_flapping
from .liveness import is_stale
from .models import CheckState, Host, Ticket
from .notifications import describe_age, notify, notify_opened, notify_resolved
from .policy import SILENT_CHECK, priority_for
from .settings import Settings
from .silences import active_silence
from .tickets import (
    SYSTEM_ACTOR,
    change_priority,
    open_ticket,
    record,
    reopen,
    resolve,
    terms_for,
)

__all__ = ["on_result", "open_for_failure", "maybe_auto_resolve", "announce"]


def on_result(
    session: Session,
    host: Host,
    state: CheckState,
    previous: Status | None,
    changed: bool,
    settings: Settings,
    now: datetime,
    ticket: Ticket | None,
    late: bool = False,
) -> Ticket | None:
    """Apply the ticket policy to one (host, check) after its latest state moved.

    ``ticket`` is the check's open ticket (locked by the caller); the return
    value is its open ticket afterwards. ``late`` marks a result that arrived
    long after it was observed (a replay after an outage).
    """
    status = Status(state.status)
    _track_flapping(session, host, state, ticket, settings, now)
    if status is Status.OK:
        state.ticket_pending = False
        if ticket is not None:
            if changed:
                record(session, ticket, "recovered", f"{state.check} is OK: {state.summary}", now)
                ticket.check_status = int(status)
            if maybe_auto_resolve(session, host, state, ticket, settings, now):
                return None
        return ticket
    if not changed:
        return ticket
    if ticket is None:
        if active_silence(session, host.customer, host.name, state.check, now) is not None:
            state.ticket_pending = True  # opened by the sweep if it still fails afterwards
            return None
        return open_for_failure(session, host, state, settings, now, late)
    was = "new" if previous is None else previous.name
    record(
        session,
        ticket,
        "check_changed",
        f"{state.check} went from {was} to {status.name}: {state.summary}",
        now,
        status=status.name,
    )
    ticket.check_status = int(status)
    ticket.summary = state.summary
    priority = priority_for(state.check, status, settings.priorities)
    if priority is not None and priority < Priority(ticket.priority):  # only ever raised here
        change_priority(
            session,
            ticket,
            priority,
            now,
            f"raised to P{int(priority)}: {state.check} is {status.name}",
            terms_for(settings, host),
        )
    return ticket


def open_for_failure(
    session: Session,
    host: Host,
    state: CheckState,
    settings: Settings,
    now: datetime,
    late: bool = False,
) -> Ticket:
    """Open a ticket for a failing check, or reopen its ticket resolved within the window."""
    status = Status(state.status)
    priority = priority_for(state.check, status, settings.priorities)
    assert priority is not None, "only failing checks get tickets"
    terms = terms_for(settings, host)
    state.ticket_pending = False
    recent = _recently_resolved(session, host.id, state.check, now - settings.tickets.reopen_window)
    if recent is not None:
        reopen(
            session,
            recent,
            now,
            f"{state.check} failed again within "
            f"{describe_age(now - (recent.resolved_at or now))} "
            f"of resolution: {status.name}: {state.summary}",
            SYSTEM_ACTOR,
            terms,
        )
        recent.check_status = int(status)
        recent.summary = state.summary
        if priority < Priority(recent.priority):
            change_priority(
                session, recent, priority, now, f"raised to P{int(priority)} on reopening", terms
            )
        if late:
            _mark_late(session, recent, state, now)
        elif not recent.flapping:
            notify(
                session,
                settings,
                recent,
                host,
                "reopened",
                ["customer", "on_duty"],
                now,
                discriminator=now.isoformat(),
                headline=f"reopened: {status.name}: {state.summary}",
            )
        return recent
    ticket = open_ticket(session, host, state.check, priority, status, state.summary, now, terms)
    if late:
        _mark_late(session, ticket, state, now)
        return ticket
    notify_opened(session, settings, ticket, host, now, f"{status.name}: {state.summary}")
    return ticket


def _mark_late(session: Session, ticket: Ticket, state: CheckState, now: datetime) -> None:
    """A failure learnt from a replay: say so, and hold its announcement for the sweep."""
    ticket.reported_late = True
    ticket.announced = False
    record(
        session,
        ticket,
        "reported_late",
        f"happened while the host could not report: observed {format_time(state.observed_at)}, "
        f"received {format_time(now)}",
        now,
    )


def announce(
    session: Session, settings: Settings, ticket: Ticket, host: Host, now: datetime
) -> None:
    """Tell the customer and the on-duty queue about a late ticket that is still open."""
    ticket.announced = True
    notify_opened(
        session,
        settings,
        ticket,
        host,
        now,
        f"{Status(ticket.check_status).name}: {ticket.summary} (began while the host "
        "could not report)",
    )


def maybe_auto_resolve(
    session: Session,
    host: Host,
    state: CheckState,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
) -> bool:
    """Resolve ``ticket`` when its check has been OK long enough; True when it did."""
    rules = settings.tickets
    if ticket.check == SILENT_CHECK or Status(state.status) is not Status.OK:
        return False
    # OK "for 10 minutes" counts from the first OK observation to now while the check keeps
    # reporting; for a check gone quiet (or a replay of old results) only up to its last
    # observation: a stale OK proves nothing about the present.
    evidence_until = state.observed_at if is_stale(host, state, now, rules) else now
    ok_for = evidence_until - state.since
    if state.ok_streak < rules.auto_resolve_ok_results or ok_for < rules.auto_resolve_after:
        return False
    message = (
        f"auto-resolved: {state.check} OK for {describe_age(ok_for)} "
        f"({state.ok_streak} consecutive OK results)"
    )
    silence = active_silence(session, host.customer, host.name, state.check, now)
    if silence is not None:
        message += f"; recovered during silence #{silence.id} ({silence.reason})"
    resolve(session, ticket, now, message, SYSTEM_ACTOR)
    if ticket.announced and not ticket.flapping:
        notify_resolved(session, settings, ticket, host, now, message)
    return True


def _recently_resolved(
    session: Session, host_id: int, check: str, since: datetime
) -> Ticket | None:
    return session.scalar(
        select(Ticket)
        .where(
            Ticket.host_id == host_id,
            Ticket.check == check,
            Ticket.state == "resolved",
            Ticket.resolved_at >= since,
        )
        .order_by(Ticket.resolved_at.desc())
        .limit(1)
        .with_for_update()
    )


def _track_flapping(
    session: Session,
    host: Host,
    state: CheckState,
    ticket: Ticket | None,
    settings: Settings,
    now: datetime,
) -> None:
    flapping, percent = track_flapping(state, settings.tickets)
    if ticket is None or ticket.flapping == flapping:
        return
    ticket.flapping = flapping
    if flapping:
        text = f"{state.check} is flapping ({percent:.0f}% state change); notifications held"
    else:
        text = f"{state.check} settled ({percent:.0f}% state change); notifications resume"
    record(session, ticket, "flapping" if flapping else "settled", text, now, percent=percent)
    notify(
        session,
        settings,
        ticket,
        host,
        "flapping" if flapping else "settled",
        ["on_duty"],
        now,
        discriminator=now.isoformat(),
        headline=text,
    )
