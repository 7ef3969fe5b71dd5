"""On SQLite a session that only reads never queues for this process's write lock.

Every other transaction begins with ``BEGIN IMMEDIATE`` behind a Python lock
(``db._queue_writers``); a token lookup did too, so an agent whose cached token
had expired waited for whatever group of batches was committing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from portacare.collector.db import make_engine, make_sessionmaker, reading, transaction
from portacare.collector.models import Host
from portacare.collector.schema import upgrade_schema
from portacare.collector.tokens import Principal, authenticate, issue_agent_token

from ...support.collector import T0, Collector, build_collector, result


def test_a_token_is_looked_up_while_another_transaction_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'collector.db'}")
    upgrade_schema(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        token = issue_agent_token(session, "h1.acme.example", None, T0)
    holder = engine.connect()
    holder.begin()  # BEGIN IMMEDIATE: the write lock, as a committing group holds it
    holder.exec_driver_sql("UPDATE hosts SET customer = 'moved'")  # not committed: unseen
    found: list[tuple[Principal | None, list[str | None]]] = []
    written = threading.Event()

    def look_up() -> None:
        with reading(factory) as session:
            found.append(
                (authenticate(session, token), list(session.scalars(select(Host.customer))))
            )

    def write() -> None:
        with transaction(factory) as session:
            session.execute(text("SELECT 1"))
        written.set()

    reader, writer = threading.Thread(target=look_up), threading.Thread(target=write)
    try:
        reader.start()
        reader.join(timeout=10)  # a writer would wait up to 30 s for the lock
        assert not reader.is_alive(), "the lookup waited for the write lock"
        writer.start()
        assert not written.wait(0.5), "a writing transaction must still queue for the lock"
    finally:
        holder.rollback()
        holder.close()
    writer.join(timeout=10)
    assert written.is_set()
    principal, customers = found[0]
    assert principal is not None and principal.host_name == "h1.acme.example"
    assert customers == [None]  # the last committed state, not the open update
    engine.dispose()


@pytest.fixture
def on_sqlite(tmp_path: Path) -> Iterator[Collector]:
    yield from build_collector(f"sqlite:///{tmp_path / 'collector.db'}")


def test_the_noc_reads_while_a_writer_holds_the_lock(on_sqlite: Collector) -> None:
    """A NOC read must not wait for a group commit or a history move to finish."""
    c = on_sqlite
    assert c.push("h1.acme.example", [result("disk", "OK")]).status_code == 202
    token = c.noc_token()
    holder = c.sessions.kw["bind"].connect()
    holder.begin()  # BEGIN IMMEDIATE behind the WriterLock, as a move's transaction holds it
    answers: dict[str, int] = {}
    paths = (
        "/api/v1/hosts",
        "/api/v1/hosts/h1.acme.example/checks",
        "/api/v1/hosts/h1.acme.example/checks/disk/results",
        "/api/v1/tickets",
        "/api/v1/silences",
    )

    def read() -> None:
        for path in paths:
            answers[path] = c.client.get(path, headers=c.auth(token)).status_code

    reader = threading.Thread(target=read)
    try:
        reader.start()
        reader.join(timeout=10)  # a writer would wait up to 30 s for the lock
        assert not reader.is_alive(), "a NOC read waited for the write lock"
    finally:
        holder.rollback()
        holder.close()
    reader.join(timeout=30)
    assert answers == dict.fromkeys(paths, 200)
