"""Database engines and sessions: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from . import jsontext

__all__ = [
    "make_engine",
    "make_sessionmaker",
    "transaction",
    "reading",
    "writer_lock",
    "WriterLock",
    "READ_ONLY",
    "WRITER_LOCK_HELD",
]

#: execution option of a connection whose transactions only read: on SQLite they begin with
#: a plain ``BEGIN`` (a snapshot of the write-ahead log) and never queue for the write lock
READ_ONLY = "portacare_read_only"
#: execution option of a connection whose caller already holds the engine's
#: :class:`WriterLock` (taken without blocking its thread); its transaction's end releases it
WRITER_LOCK_HELD = "portacare_writer_lock_held"
_WRITER_LOCKS: dict[int, WriterLock] = {}
#: PostgreSQL: a pooled connection idle for longer is pinged before it is handed out
IDLE_PING_SECONDS = 2.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    kwargs = {"json_serializer": jsontext.dumps, "json_deserializer": jsontext.loads, **kwargs}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _queue_writers(engine)
        return engine
    # a pool as deep as uvicorn's busy threads, so requests do not churn connections; a server
    # that does not answer is given up on after 5 s (libpq would wait for TCP's own timeout)
    options: dict[str, Any] = {
        "pool_size": 20,
        "max_overflow": 20,
        "connect_args": {"connect_timeout": 5},
    }
    engine = create_engine(url, **{**options, **kwargs})
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has been idle a while.

    A server restarted, or a firewall that dropped an idle connection, must cost no
    request its answer: such a connection is found dead and replaced at checkout.
    SQLAlchemy's ``pool_pre_ping`` pings at every checkout, a round trip the event
    loop waited for before every group of batches (under wrk at batches of 10, four
    paired runs: 7.0-8.1k -> 7.9-9.6k results/s, the collector's CPU per request
    0.70-0.87 -> 0.59-0.75 ms). A connection in steady use proves itself alive: a
    failure on it invalidates the pool (SQLAlchemy's own handling) and is answered 503.
    """

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("returned_at")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"an idle pooled connection is dead: {exc}") from exc

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checked_out)


class WriterLock:
    """SQLite's one writer, queued for: this process's threads, and every process on the file.

    A thread lock orders this process's writers; an ``flock`` on a file beside the
    database (``<database>-writer.lock``) orders the processes (``serve --workers``,
    a ``sweep`` from cron). Both wake a waiter the moment the lock is free, where
    SQLite's own busy handler sleeps in steps of up to 100 ms: two processes
    queueing there took turns slowly enough for a p99 of 1.5 s under wrk.
    """

    def __init__(self, database: str | None) -> None:
        self._thread = threading.Lock()
        self.holder: Any = None  # the DBAPI connection whose transaction holds the lock
        self._file = None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._file = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            os.set_inheritable(self._file, False)

    def acquire(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` for this process's other writers) for the lock."""
        if not self._thread.acquire(timeout=timeout):
            return False
        if self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            except BaseException:
                self._thread.release()
                raise
        return True

    def try_acquire(self) -> bool:
        """Take the lock only if no writer holds it, in this process or another."""
        if not self._thread.acquire(blocking=False):
            return False
        if self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._thread.release()
                return False
        return True

    def release(self) -> None:
        self.holder = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._thread.release()

    def release_unclaimed(self) -> None:
        """Give back a lock taken for a transaction that never began (so never claimed it)."""
        if self.holder is None:
            self.release()


def writer_lock(engine: object) -> WriterLock | None:
    """The engine's :class:`WriterLock` (SQLite), ``None`` for a database with many writers."""
    return _WRITER_LOCKS.get(id(engine))


def _queue_writers(engine: Engine) -> None:
    """SQLite has one writer at a time: make every transaction queue for it.

    Each transaction takes the write lock up front (``BEGIN IMMEDIATE``, so none
    fails on a lock upgrade), and waits for it on a :class:`WriterLock` first. A
    transaction on a connection marked :data:`READ_ONLY` (:func:`reading`) takes
    no lock: in WAL mode readers and the writer never wait for each other. One
    marked :data:`WRITER_LOCK_HELD` comes with the lock already taken (the event
    loop takes it without waiting, or on another thread, never blocking itself).
    """
    writer = _WRITER_LOCKS[id(engine)] = WriterLock(engine.url.database)

    def begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        # bounded wait: should a holder ever vanish without commit or rollback, writers fall
        # back to SQLite's own busy handler instead of hanging
        if options.get(WRITER_LOCK_HELD) or writer.acquire(timeout=30):
            writer.holder = conn.connection
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end(conn)
            raise

    def end(conn: Any) -> None:
        if writer.holder is not None and writer.holder is conn.connection:
            writer.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose queued notifications are written as part of their commit."""
    from .notifications import write_queued

    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_commit", write_queued)
    return factory


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that only reads: on SQLite it does not wait for a writer's commit.

    A token looked up while a group of batches commits was waiting for it; with
    1,000 agents whose cached tokens then expired every 30 s, a third of the
    collector's threads' time under wrk (py-spy, batches of 10).
    """
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed whole on success, rolled back whole on any error."""
    with factory() as session, session.begin():
        yield session
