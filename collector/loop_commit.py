"""Group commit on the event loop itself.

Done on a writer thread, a group's transaction (mostly Python: reading the
latest states, moving them, encoding rows) and the event loop's HTTP work take
turns at the interpreter lock, and every turn costs: under wrk at batches of 10
the collector spent about 1.4 ms of CPU per request on SQLite where the HTTP
side alone (0.3-0.4 ms) and storing alone (0.55-0.7 ms per batch in groups of 8)
add up to about 1 ms. Here the requests that arrive while the loop is busy are
stored in one transaction by a callback of the loop, once a turn of the loop
brings no new batch, and answered from it; nothing changes hands between
threads, and the group grows to about one batch per busy connection. Measured
with wrk at 16 connections, batches of 10, same machine: SQLite 6.6-6.8k ->
9.4-11.1k results/s (0.86-0.98 ms of CPU per request), PostgreSQL 3.6-4.5k ->
5.0-7.0k. A first version that stored what arrived within 0.5 ms made groups of
two or three and reached 7.1-9.7k and 4.8-5.6k.

What is left of a group once its answers are known runs on a thread of its own
(``portacare-commit``, :meth:`.group_commit.OpenGroup.commit`): on PostgreSQL the
writes (one statement: ``driver_rows``) and the commit, which are mostly waiting
for the server; on SQLite the commit, the write-ahead log's pages in C with the
interpreter lock released. Meanwhile the loop reads and validates the next
requests. SQLite has one writer, so the next group begins when that commit has
ended; on PostgreSQL a second group may begin meanwhile (``concurrent_commits``).
A group holds at most ``max_group_results`` results. Same machine, wrk, batches
of 10, paired runs: SQLite 4.2-4.4k -> 4.5-4.9k results/s (the commit alone on
the thread); PostgreSQL 2.5-2.6k -> 2.9-3.1k (its writes too, as JSON documents).

The loop must never wait long, so what could make it wait stays on the
writer thread of :class:`.group_commit.IngestQueue`: batches that need the
ticket policy (a transaction each, retries with pauses), and every group for
``RECOVERY_SECONDS`` after the database was found unreachable (the thread
answers 503 while it stays away). A group's wait for another writer's row
locks is bounded on PostgreSQL (``group_commit.GROUP_LOCK_TIMEOUT``; past it the
batches go to the thread). SQLite's one writer (``db.WriterLock``) is taken
without waiting when it is free; when another process (``serve --workers``, a
``sweep`` from cron) or a thread of this one holds it, a commit thread waits for it
while the loop goes on answering, and the group begins once it has it (after
``WRITER_WAIT_SECONDS`` its batches go to the writer thread instead). Measured
with ``serve --workers 2`` on 2 cores shared with wrk, batches of 10: 17.7-18.1k
results/s against 17.4-17.8k for one worker: both workers busy (1.3 cores), but
every group's reads, Python and writes are SQLite's one writer's turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from .bulk_ingest import GroupOutcome, Pending
from .db import writer_lock
from .errors import Unavailable
from .group_commit import MAX_GROUP_RESULTS, IngestQueue, OpenGroup, begin_group
from .settings import Settings
from .tokens import Principal
from .wire import BatchAccepted, BatchIn

__all__ = ["LoopIngest", "RECOVERY_SECONDS"]

#: after the database was unreachable, groups go to the writer thread for this long (seconds)
RECOVERY_SECONDS = 5.0
#: SQLite: a group waits this long for another writer (process) before its batches go to the
#: writer thread, which waits as long as it takes
WRITER_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class _Waiting:
    pending: Pending
    answer: asyncio.Future[BatchAccepted]


class LoopIngest:
    """The batches of one collector process, stored by the event loop that received them."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        max_group_results: int = MAX_GROUP_RESULTS,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._max_results = max_group_results
        self._policy = IngestQueue(factory, settings, max_group_results)
        self._waiting: list[_Waiting] = []
        self._results = 0
        self._flush: asyncio.Handle | None = None
        self._seen = 0  # batches waiting when the loop last looked
        self._thread_until = 0.0  # monotonic time: until then groups go to the writer thread
        self._committer: ThreadPoolExecutor | None = None
        self._committing = 0  # groups waiting for SQLite's writer lock, or committing
        self._most_committing = concurrent_commits(factory)
        self._writer = writer_lock(factory.kw.get("bind"))  # SQLite's one writer, or None

    async def store(self, principal: Principal, batch: BatchIn, now: datetime) -> BatchAccepted:
        """Store ``batch`` exactly once; returns when it is committed (or raises why not)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[BatchAccepted] = loop.create_future()
        self._waiting.append(_Waiting(Pending(principal, batch, now), answer))
        self._results += len(batch.results)
        if self._committing >= self._most_committing:
            pass  # a running commit's end stores what waits
        elif self._results >= self._max_results:
            self._store_waiting()
        elif self._flush is None:
            self._schedule(loop)
        return await answer

    def close(self) -> None:
        """Finish the running commit, end the threads (a later batch starts them again)."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        self._policy.close()

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._seen = 0
        self._flush = loop.call_soon(self._store_when_quiet, loop)

    def _store_when_quiet(self, loop: asyncio.AbstractEventLoop) -> None:
        """Store the group once a turn of the loop brought no new batch.

        Each turn reads whatever the sockets hold and runs the requests that are
        ready; while that adds batches the group keeps growing. Under load it
        grows to about one batch per busy connection; a lone request waits two
        turns of the loop (microseconds).
        """
        if len(self._waiting) > self._seen:
            self._seen = len(self._waiting)
            self._flush = loop.call_soon(self._store_when_quiet, loop)
            return
        self._flush = None
        self._store_waiting()

    def _store_waiting(self) -> None:
        """Store what waits, in groups of at most ``max_group_results`` results."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        while self._waiting and self._committing < self._most_committing:
            taken, results = 1, len(self._waiting[0].pending.batch.results)
            for waiting in self._waiting[1:]:
                if results + len(waiting.pending.batch.results) > self._max_results:
                    break
                taken, results = taken + 1, results + len(waiting.pending.batch.results)
            group, self._waiting = self._waiting[:taken], self._waiting[taken:]
            self._results -= results
            self._store(group)

    def _store(self, group: Sequence[_Waiting]) -> None:
        if time.monotonic() < self._thread_until:
            for waiting in group:
                self._hand_over(waiting, policy_only=False)
            return
        if self._writer is None or self._writer.try_acquire():
            self._begin(group, lock_held=self._writer is not None)
            return
        # SQLite's writer is another process (serve --workers) or a thread of this one: wait for
        # it on a commit thread while the loop goes on reading requests (they join the next group)
        loop = group[0].answer.get_loop()
        self._committing += 1
        waited = self._threads().submit(self._writer.acquire, WRITER_WAIT_SECONDS)
        waited.add_done_callback(_back_on(loop, self._locked, loop, group))

    def _locked(
        self, loop: asyncio.AbstractEventLoop, group: Sequence[_Waiting], done: Future[bool]
    ) -> None:
        self._committing -= 1
        if done.exception() is None and done.result():
            self._begin(group, lock_held=True)
        else:
            for waiting in group:  # the writer thread waits as long as it takes
                self._hand_over(waiting, policy_only=False)
        self._store_next(loop)

    def _begin(self, group: Sequence[_Waiting], *, lock_held: bool) -> None:
        opened = begin_group(
            self._factory, self._settings, [w.pending for w in group], lock_held=lock_held
        )
        if not isinstance(opened, OpenGroup):
            self._answer(group, opened)
            return
        # the rest runs on a commit thread (C with the interpreter lock released, or waiting for
        # the server) while the loop reads the next requests; the next group begins once fewer
        # commits run than ``concurrent_commits`` allows (SQLite: one writer)
        loop = group[0].answer.get_loop()
        self._committing += 1
        committed = self._threads().submit(opened.commit)
        committed.add_done_callback(_back_on(loop, self._committed, loop, group))

    def _threads(self) -> ThreadPoolExecutor:
        if self._committer is None:
            self._committer = ThreadPoolExecutor(
                self._most_committing, thread_name_prefix="portacare-commit"
            )
        return self._committer

    def _committed(
        self,
        loop: asyncio.AbstractEventLoop,
        group: Sequence[_Waiting],
        done: Future[GroupOutcome | Unavailable],
    ) -> None:
        self._committing -= 1
        error = done.exception()
        outcome = GroupOutcome(deferred=list(range(len(group)))) if error else done.result()
        self._answer(group, outcome)
        self._store_next(loop)

    def _store_next(self, loop: asyncio.AbstractEventLoop) -> None:
        """After a group: store what waits now if it fills a group, else once the loop is quiet."""
        if self._results >= self._max_results:
            self._store_waiting()
        elif self._waiting and self._flush is None:
            self._schedule(loop)

    def _answer(self, group: Sequence[_Waiting], outcome: GroupOutcome | Unavailable) -> None:
        if isinstance(outcome, Unavailable):  # the writer thread answers while it is away
            self._thread_until = time.monotonic() + RECOVERY_SECONDS
            for waiting in group:
                self._hand_over(waiting, policy_only=False)
            return
        for index, accepted in outcome.answers.items():
            if not group[index].answer.done():  # done: its request was cancelled
                group[index].answer.set_result(accepted)
        for index in outcome.deferred:
            self._hand_over(group[index], policy_only=True)

    def _hand_over(self, waiting: _Waiting, *, policy_only: bool) -> None:
        """Let the writer thread store it; its answer comes back to this loop."""
        loop = waiting.answer.get_loop()
        stored = self._policy.submit(waiting.pending, policy_only=policy_only)
        stored.add_done_callback(_back_on(loop, _copy_into, waiting.answer))


def _back_on(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: Any
) -> Callable[[Future[Any]], None]:
    """A done-callback for a thread's future: ``callback(*args, future)`` on ``loop``."""

    bound = partial(callback, *args)

    def relay(done: Future[Any]) -> None:
        with suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(bound, done)

    return relay


def concurrent_commits(factory: sessionmaker[Session]) -> int:
    """How many groups may be between their answers and their commit at once.

    SQLite has one writer: the next group begins once the last one committed.
    On PostgreSQL a second group is read and worked out while the first one's
    writes and commit wait for the server: under a closed load (16 agents whose
    next batch waits for their last answer) the loop otherwise idles while its
    one group commits. Two groups with a host in common queue on its row lock.
    """
    bind = factory.kw.get("bind")
    return 2 if bind is not None and bind.dialect.name == "postgresql" else 1


def _copy_into(target: asyncio.Future[BatchAccepted], source: Future[BatchAccepted]) -> None:
    if target.done():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
