"""Database engines and sessions: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from . import jsontext

__all__ = ["make_engine", "make_sessionmaker", "transaction", "reading", "READ_ONLY"]

#: execution option of a connection whose transactions only read: on SQLite they begin with
#: a plain ``BEGIN`` (a snapshot of the write-ahead log) and never queue for the write lock
READ_ONLY = "portacare_read_only"


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
        "pool_pre_ping": True,
        "pool_size": 20,
        "max_overflow": 20,
        "connect_args": {"connect_timeout": 5},
    }
    return create_engine(url, **{**options, **kwargs})


def _queue_writers(engine: Engine) -> None:
    """SQLite has one writer at a time: make this process's transactions queue for it.

    Each transaction takes the write lock up front (``BEGIN IMMEDIATE``, so none
    fails on a lock upgrade), and waits for it on a Python lock first: a waiting
    thread wakes the moment the lock is free, where SQLite's own busy handler
    sleeps in steps of up to 100 ms and turns contention into seconds of latency.
    Other processes on the same file still queue on ``busy_timeout``. A
    transaction on a connection marked :data:`READ_ONLY` (:func:`reading`) takes
    no lock: in WAL mode readers and the writer never wait for each other.
    """
    writer = threading.Lock()
    holder: list[Any] = [None]  # the connection whose transaction holds ``writer``

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        # bounded wait: should a holder ever vanish without commit or rollback, writers fall
        # back to SQLite's own busy handler instead of hanging
        if writer.acquire(timeout=30):
            holder[0] = conn.connection
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end(conn)
            raise

    def end(conn: Any) -> None:
        if holder[0] is not None and holder[0] is conn.connection:
            holder[0] = None
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
    1,000 agents whose cached tokens expire every 30 s, a third of the
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
