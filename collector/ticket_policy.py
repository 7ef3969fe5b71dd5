"""What a check's latest state does to its ticket: open, raise, note, or leave alone.

Called for every result applied to the latest state (changed or not), so
later rules that count consecutive results (auto-resolve) live here too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portacare.checks import Status
from portacare.sla import Priority

from .models import CheckState, Host
from .policy import priority_for
from .settings import Settings
from .tickets import find_open_ticket, open_ticket, raise_priority, record

__all__ = ["on_status_change"]


def on_status_change(
    session: Session,
    host: Host,
    state: CheckState,
    previous: Status | None,
    changed: bool,
    settings: Settings,
    now: datetime,
) -> None:
    """Apply the ticket policy to one (host, check) after its latest state moved."""
    status = Status(state.status)
    if not changed:
        return
    ticket = find_open_ticket(session, host.id, state.check)
    if status is Status.OK:
        if ticket is not None:
            record(session, ticket, "recovered", f"{state.check} is OK again: {state.summary}", now)
            ticket.check_status = int(status)
        return
    priority = priority_for(state.check, status, settings.priorities)
    assert priority is not None
    if ticket is None:
        open_ticket(session, host, state.check, priority, status, state.summary, now)
        return
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
    if priority < Priority(ticket.priority):  # only ever raised automatically
        raise_priority(
            session,
            ticket,
            priority,
            now,
            f"raised to P{int(priority)}: {state.check} is {status.name}",
        )
