"""How one result moves a check's latest state forward: one rule for every ingest path.

The ticket-policy path works on ``CheckState`` rows of the ORM, the bulk path
on :class:`StateRow` values it writes back with multi-row statements; both call
:func:`advance` and :func:`track_flapping`, so the two can never disagree about
what a result does to a state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from portacare.checks import Status
from portacare.checks.result import STATUS_BY_NUMBER

from .flapping import MIN_RESULTS, next_flapping, percent_state_change, remember
from .settings import TicketRules
from .wire import ResultIn

__all__ = [
    "LatestState",
    "StateRow",
    "STATE_COLUMNS",
    "first_state",
    "advance",
    "track_flapping",
]


class LatestState(Protocol):
    """What :func:`advance` reads and writes: a ``CheckState`` or a :class:`StateRow`."""

    status: int
    summary: str
    observed_at: datetime
    since: datetime
    metrics: dict[str, Any]
    ok_streak: int
    history: dict[str, Any]
    ticket_pending: bool
    stale_after: datetime | None


@dataclass
class StateRow:
    """A ``check_states`` row as plain values, for statements that write many rows at once."""

    host_id: int
    check: str
    status: int
    summary: str
    observed_at: datetime
    since: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    ok_streak: int = 0
    history: dict[str, Any] = field(default_factory=dict)
    ticket_pending: bool = False
    stale_after: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The row's columns (shallow: ``asdict`` would deep-copy every JSON value)."""
        return {name: getattr(self, name) for name in STATE_COLUMNS}


#: the columns of ``check_states``, in the order of :class:`StateRow`'s fields
STATE_COLUMNS = tuple(f.name for f in fields(StateRow))


def first_state(host_id: int, result: ResultIn) -> StateRow:
    """A check's first state, before :func:`advance` counts the result."""
    return StateRow(
        host_id=host_id,
        check=result.check,
        status=int(result.status),
        summary=result.summary,
        observed_at=result.observed_at,
        since=result.observed_at,
        metrics=result.metrics,
    )


def advance(
    state: LatestState, result: ResultIn, stale_allowance: timedelta, *, new: bool
) -> tuple[Status | None, bool]:
    """Move ``state`` to ``result`` in place: (previous status, whether the status changed).

    ``new`` is a state just made by :func:`first_state`: it has no previous
    status and counts as a change unless it is OK. The caller has already left
    out results older than the state (they belong to the history only).
    """
    status = STATUS_BY_NUMBER[result.status]
    if new:
        previous, changed = None, status is not Status.OK
    else:
        previous = STATUS_BY_NUMBER[state.status]
        changed = status is not previous
        if changed:
            state.since = result.observed_at
        state.status = int(status)
        state.summary = result.summary
        state.observed_at = result.observed_at
        state.metrics = result.metrics
    state.ok_streak = state.ok_streak + 1 if status is Status.OK else 0
    state.stale_after = result.observed_at + stale_allowance
    return previous, changed


def track_flapping(state: LatestState, rules: TicketRules) -> tuple[bool, float]:
    """Count the state's status into its flap history: (flapping now, percent state change)."""
    history = state.history or {}
    recent = remember(history.get("recent", []), state.status, rules.flap_window)
    percent = percent_state_change(recent) if len(recent) >= MIN_RESULTS else 0.0
    flapping = next_flapping(
        bool(history.get("flapping")), percent, rules.flap_high, rules.flap_low
    )
    state.history = {"recent": recent, "flapping": flapping, "percent": percent}
    return flapping, percent
