"""Many batches in one transaction, written with a handful of multi-row statements.

Most results ask nothing of the ticket policy: an OK check stays OK, a failure
under a silence stays failed. For those, storing is arithmetic on the latest
state (:mod:`.latest_state`, the same rule the policy path uses) and one
statement per table for the whole group, where the policy path spends an ORM
unit of work and a transaction on every batch.

A host's batches leave the group for the policy path (``ingest.ingest_batch``,
one batch per transaction) as soon as one of its results needs a person's
attention: a check with an open ticket, a status changing to a failure, an
open silent-agent ticket, or a batch_id posted twice within the group. The
decision is made on rows locked in this transaction (host, then its states,
then its open tickets, in the order the policy path locks them), so no other
writer can change what it was based on before commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from portacare.checks import Status
from portacare.checks.result import SEVERITY_BY_NUMBER

from .driver_rows import DriverRows
from .ingest import batch_row, history_row, note_agent, state_event_row
from .latest_state import StateRow, advance, first_state, track_flapping
from .liveness import stale_allowance
from .models import CheckState, StateEvent
from .policy import SILENT_CHECK
from .settings import Settings
from .tokens import Principal
from .wire import BatchAccepted, BatchIn, ResultIn

__all__ = ["Pending", "GroupOutcome", "GroupWrites", "stage_group", "store_group"]

# The rare inserts (a check's first state, a state change) as Core statements built once;
# everything else goes through the driver (``driver_rows``).
_INSERTS = {
    name: insert(cast(Table, model.__table__))
    for name, model in (("new_states", CheckState), ("events", StateEvent))
}


@dataclass(frozen=True)
class Pending:
    """One batch waiting to be stored, as the endpoint received it."""

    principal: Principal
    batch: BatchIn
    now: datetime

    @property
    def host_id(self) -> int:
        assert self.principal.host_id is not None, "only agent tokens push results"
        return self.principal.host_id


@dataclass
class GroupOutcome:
    """The answers for the batches stored here, and the batches left to the policy path."""

    answers: dict[int, BatchAccepted] = field(default_factory=dict)  # by index in the group
    deferred: list[int] = field(default_factory=list)  # indices, in the group's order


@dataclass
class _HostRow:
    """The columns of a host the bulk path reads and writes (names as on ``Host``)."""

    id: int
    name: str
    customer: str | None
    last_seen: datetime | None
    interval_s: float
    check_intervals: dict[str, Any]
    dropped: dict[str, Any] | None


@dataclass
class GroupWrites:
    """Rows for the group's multi-row statements."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)  # SQLite: tuples; PostgreSQL: dicts
    new_states: list[dict[str, Any]] = field(default_factory=list)
    moved_states: list[StateRow] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: GroupWrites) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))

    def execute(self, session: Session) -> None:
        """Write every row (into the transaction whose locks :func:`stage_group` took)."""
        driver = DriverRows.of(session)
        if not driver.sqlite:  # one statement, a round trip
            driver.write_group(
                session,
                batches=self.batches,
                new_states=self.new_states,
                events=self.events,
                results=self.results,
                moved_states=self.moved_states,
                hosts=self.hosts,
            )
            return
        # batches first: their primary key is what a concurrent duplicate collides on
        driver.insert_batches(session, self.batches)
        connection = session.connection()
        for name, statement in _INSERTS.items():  # rare: a check's first state, a change
            rows = getattr(self, name)
            if rows:
                connection.execute(statement, rows)
        driver.insert_results(session, self.results)
        driver.update_states(session, self.moved_states)
        driver.update_hosts(session, self.hosts)


class _NeedsPolicy(Exception):
    """A host's batches carry something for the ticket policy: store them on its path."""


def store_group(session: Session, group: Sequence[Pending], settings: Settings) -> GroupOutcome:
    """Store what needs no ticket policy from ``group``; say which batches still wait."""
    outcome, writes = stage_group(session, group, settings)
    writes.execute(session)
    return outcome


def stage_group(
    session: Session, group: Sequence[Pending], settings: Settings
) -> tuple[GroupOutcome, GroupWrites]:
    """:func:`store_group` but for writing the rows: the answers, and the rows to write.

    The rows the answers were worked out from stay locked in ``session``'s
    transaction, so its writes may follow later (on another thread), before its commit.
    """
    outcome = GroupOutcome()
    writes = GroupWrites()
    by_host: dict[int, list[int]] = {}
    for index, pending in enumerate(group):
        by_host.setdefault(pending.host_id, []).append(index)
    repeated = {k for k, n in Counter(p.batch.batch_id for p in group).items() if n > 1}
    for host_id, indices in list(by_host.items()):
        if any(group[i].batch.batch_id in repeated for i in indices):
            del by_host[host_id]
    if by_host:
        hosts, states, open_checks, stored = _read(session, group, sorted(by_host))
        driver = DriverRows.of(session)
        history = driver.history_values if driver.sqlite else _history_dicts
        for host_id, indices in by_host.items():
            host = hosts.get(host_id)
            try:
                if host is None or SILENT_CHECK in open_checks.get(host_id, ()):
                    raise _NeedsPolicy
                answers = _stage_host(
                    host,
                    [group[i] for i in indices],
                    stored,
                    open_checks.get(host_id, set()),
                    states.get(host_id, {}),
                    settings,
                    writes,
                    history,
                )
            except _NeedsPolicy:
                continue
            outcome.answers.update(zip(indices, answers, strict=True))
    outcome.deferred = [i for i in range(len(group)) if i not in outcome.answers]
    return outcome, writes


def _read(
    session: Session, group: Sequence[Pending], host_ids: list[int]
) -> tuple[dict[int, _HostRow], dict[int, dict[str, StateRow]], dict[int, set[str]], set[str]]:
    """Lock and read the group's hosts, their latest states and open tickets, known batch ids."""
    driver = DriverRows.of(session)
    hosts = {row["id"]: _HostRow(**row) for row in driver.read_hosts(session, host_ids)}
    states: dict[int, dict[str, StateRow]] = {}
    for state in driver.read_states(session, host_ids):
        states.setdefault(state.host_id, {})[state.check] = state
    # read after the states are locked: a ticket another writer opened meanwhile is seen
    open_checks: dict[int, set[str]] = {}
    for host_id, check in driver.read_open_tickets(session, host_ids):
        open_checks.setdefault(host_id, set()).add(check)
    stored = driver.read_known_batches(session, [p.batch.batch_id for p in group])
    return hosts, states, open_checks, stored


def _stage_host(
    host: _HostRow,
    batches: Iterable[Pending],
    stored: set[str],
    open_checks: set[str],
    states: dict[str, StateRow],
    settings: Settings,
    writes: GroupWrites,
    history: Callable[[int, Sequence[ResultIn], datetime], list[Any]],
) -> list[BatchAccepted]:
    """Apply one host's batches to its states; add its rows to ``writes`` unless it raises.

    Raises :class:`_NeedsPolicy` (having added nothing) when a result needs the ticket policy.
    """
    staged = GroupWrites()
    answers = []
    new_checks: set[str] = set()
    moved_checks: set[str] = set()
    for pending in batches:
        batch, now = pending.batch, pending.now
        if batch.batch_id in stored:
            answers.append(BatchAccepted(accepted=0, duplicate=True))
            continue
        note_agent(host, batch, settings, now)
        staged.batches.append(batch_row(host.id, batch, now))
        staged.results.extend(history(host.id, batch.results, now))
        for result in sorted(batch.results, key=lambda r: r.observed_at):
            if result.check in open_checks:
                raise _NeedsPolicy
            state = states.get(result.check)
            new = state is None
            if state is None:
                state = states[result.check] = first_state(host.id, result)
                new_checks.add(result.check)
            elif result.observed_at < state.observed_at:
                continue  # history only: a newer state is already known
            allowance = stale_allowance(host, result.check, settings.tickets)
            previous, changed = advance(state, result, allowance, new=new)
            if changed and result.status is not Status.OK:
                raise _NeedsPolicy
            track_flapping(state, settings.tickets)
            if result.status is Status.OK:
                state.ticket_pending = False
            if not new:
                moved_checks.add(result.check)
            if changed:
                staged.events.append(state_event_row(host.id, result, previous))
        answers.append(BatchAccepted(accepted=len(batch.results), duplicate=False))
    staged.new_states = [states[c].values() for c in sorted(new_checks)]
    staged.moved_states = [states[c] for c in sorted(moved_checks - new_checks)]
    staged.hosts = [_host_values(host, states.values())]
    writes.add(staged)
    return answers


def _history_dicts(host_id: int, results: Sequence[ResultIn], now: datetime) -> list[Any]:
    """PostgreSQL's history rows: dicts by column, encoded into the group's JSON documents."""
    return [history_row(host_id, r, now) for r in results]


def _host_values(host: _HostRow, states: Iterable[StateRow]) -> dict[str, Any]:
    """The host's new columns, with the host list's rollup over all its states."""
    states = list(states)
    stale = [s.stale_after for s in states if s.stale_after is not None]
    return {
        "host_id": host.id,
        "customer": host.customer,
        "last_seen": host.last_seen,
        "interval_s": host.interval_s,
        "check_intervals": host.check_intervals,
        "dropped": host.dropped,
        "worst_rank": max((SEVERITY_BY_NUMBER[s.status] for s in states), default=None),
        "stale_at": min(stale, default=None),
    }
