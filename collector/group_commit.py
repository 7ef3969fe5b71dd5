"""Group commit: the batches that arrive together share one transaction; and the writer thread.

An agent's push is answered only after its batch is committed; the batches of
all the requests waiting at that moment share the commit and the handful of
statements of :mod:`.bulk_ingest` (:func:`commit_group`). The collector's event
loop runs those groups itself (:mod:`.loop_commit`); :class:`IngestQueue` is a
writer thread that does the same for work the loop must not wait for, and for
callers outside the loop. Under light load a group is a single batch; under
heavy load it grows by itself while the previous one commits.

Batches that need the ticket policy, and every batch of a group whose
transaction failed, are stored one per transaction by ``ingest.ingest_batch``
(with its retries), so one bad batch or a race with another collector never
costs the others their answer. A database that is unreachable fails the whole
group at once with :class:`Unavailable` (503), without trying each batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .bulk_ingest import GroupOutcome, GroupWrites, Pending, stage_group
from .db import WRITER_LOCK_HELD, writer_lock
from .errors import Unavailable
from .ingest import ingest_batch, is_unreachable
from .settings import Settings
from .wire import BatchAccepted

__all__ = ["IngestQueue", "OpenGroup", "begin_group", "commit_group"]

log = logging.getLogger("portacare.collector.group_commit")

#: a group stops growing at this many results (bounds one transaction's time and size)
MAX_GROUP_RESULTS = 5000
#: an idle writer thread ends after this long; the next batch starts another
IDLE_SECONDS = 5.0
#: PostgreSQL: a group waits this long for another writer's row locks, then its batches go
#: one by one (the policy path waits as long as it takes); bounds how long the loop can wait
GROUP_LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class _Queued:
    pending: Pending
    answer: Future[BatchAccepted]
    policy_only: bool = False  # already known to need the ticket policy: no group attempt


def commit_group(
    factory: sessionmaker[Session], settings: Settings, group: Sequence[Pending]
) -> GroupOutcome | Unavailable:
    """One transaction for what in ``group`` needs no ticket policy.

    A database that cannot be reached comes back as :class:`Unavailable` for the
    whole group; any other failure defers every batch to the policy path, one by one.
    """
    opened = begin_group(factory, settings, group)
    return opened.commit() if isinstance(opened, OpenGroup) else opened


def begin_group(
    factory: sessionmaker[Session],
    settings: Settings,
    group: Sequence[Pending],
    *,
    lock_held: bool = False,
) -> OpenGroup | GroupOutcome | Unavailable:
    """:func:`commit_group` up to its writes, which :meth:`OpenGroup.commit` does.

    Here the group's rows are locked and read and its answers worked out (the
    Python work); what is left may run on another thread, where it is mostly
    waiting: on PostgreSQL the writes and the commit (round trips, the server's
    work, its flush to disk); on SQLite the commit alone (the log's pages, C code
    with the interpreter lock released), since its writes are mostly Python that
    would take turns at that lock with the caller's thread (wrk, batches of 10,
    paired: 4.7-4.9k results/s with the writes here, 4.1-4.3k on the thread).
    A failure before that comes back as :func:`commit_group` returns it, the
    transaction rolled back. ``lock_held``: the caller took SQLite's
    :class:`~.db.WriterLock` for this transaction, whose end gives it back.
    """
    session = factory()
    try:
        session.begin()
        if lock_held:
            session.connection(execution_options={WRITER_LOCK_HELD: True})
        postgresql = session.get_bind().dialect.name == "postgresql"
        if postgresql:
            session.execute(text(f"SET LOCAL lock_timeout = '{GROUP_LOCK_TIMEOUT}'"))
        outcome, writes = stage_group(session, group, settings)
        if not postgresql:
            writes.execute(session)
            writes = GroupWrites()
        return OpenGroup(session, outcome, writes, len(group))
    except Exception as exc:
        _close(session, lock_held)
        return _failed(exc, len(group))
    except BaseException:
        _close(session, lock_held)
        raise


@dataclass
class OpenGroup:
    """A group's transaction: rows locked, answers known, the writes and the commit to do."""

    session: Session
    outcome: GroupOutcome
    writes: GroupWrites
    size: int

    def commit(self) -> GroupOutcome | Unavailable:
        """Write, commit and close; a failure answers as :func:`commit_group` does."""
        try:
            self.writes.execute(self.session)
            self.session.commit()
        except Exception as exc:
            return _failed(exc, self.size)
        finally:
            _close(self.session)
        return self.outcome


def _close(session: Session, lock_held: bool = False) -> None:
    """Roll back what is not committed and give the connection back, come what may."""
    try:
        session.close()
    except Exception:  # a connection already lost: the pool discards it
        log.debug("closing a group's session failed", exc_info=True)
    lock = writer_lock(session.get_bind()) if lock_held else None
    if lock is not None:  # a transaction that never began never took it over
        lock.release_unclaimed()


def _failed(exc: Exception, size: int) -> GroupOutcome | Unavailable:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or is_unreachable(exc):
            return Unavailable(f"database unavailable: {exc.orig}")
        log.info("a group of %d batches is stored one by one: %s", size, exc.orig)
    else:  # a defect here must not cost any batch its answer
        log.error("a group of %d batches is stored one by one", size, exc_info=exc)
    return GroupOutcome(deferred=list(range(size)))


class IngestQueue:
    """The batches of one collector process on their way into the database."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        max_group_results: int = MAX_GROUP_RESULTS,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._max_results = max_group_results
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def submit(self, pending: Pending, *, policy_only: bool = False) -> Future[BatchAccepted]:
        """Queue one batch; the future holds its answer once the writer has stored it.

        ``policy_only``: the batch is known to need the ticket policy (one transaction
        of its own, with retries), so no group commit is tried for it.
        """
        answer: Future[BatchAccepted] = Future()
        with self._lock:
            self._queue.put(_Queued(pending, answer, policy_only))
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="portacare-ingest", daemon=True
                )
                self._writer.start()
        return answer

    def close(self, timeout: float = 10.0) -> None:
        """Let the writer finish what is queued and end (a later batch starts it again)."""
        with self._lock:
            writer = self._writer
            if writer is None:
                return
            self._queue.put(None)  # wakes it: an empty queue then ends it
        writer.join(timeout)

    def _write(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                first = None
            if first is not None:
                self._store([first, *self._drain(len(first.pending.batch.results))])
                continue
            with self._lock:  # submit() holds it while queueing: nothing slips past
                if self._queue.empty():
                    self._writer = None
                    return

    def _drain(self, results: int) -> list[_Queued]:
        """Whatever else is waiting, up to the group's size."""
        more: list[_Queued] = []
        while results < self._max_results:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # a wake-up from close(): keep it for the loop
                self._queue.put(None)
                break
            more.append(item)
            results += len(item.pending.batch.results)
        return more

    def _store(self, queued: Sequence[_Queued]) -> None:
        group = [q for q in queued if not q.policy_only]
        outcome = (
            commit_group(self._factory, self._settings, [q.pending for q in group])
            if group
            else GroupOutcome()
        )
        if isinstance(outcome, Unavailable):
            for q in group:
                q.answer.set_exception(outcome)
            outcome = GroupOutcome()
        for index, accepted in outcome.answers.items():
            group[index].answer.set_result(accepted)
        for q in [*(group[i] for i in outcome.deferred), *(q for q in queued if q.policy_only)]:
            self._store_one(q)

    def _store_one(self, queued: _Queued) -> None:
        p = queued.pending
        try:
            queued.answer.set_result(
                ingest_batch(self._factory, p.principal, p.batch, self._settings, p.now)
            )
        except Exception as exc:  # handed to the request that waits for it
            queued.answer.set_exception(exc)
