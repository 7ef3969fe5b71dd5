"""On SQLite a session that only reads never queues for this process's write lock.

Every other transaction begins with ``BEGIN IMMEDIATE`` behind a Python lock
(``db._queue_writers``); a token lookup did too, so an agent whose cached token
had expired waited for whatever group of batches was committing.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select, text

from portacare.collector.db import make_engine, make_sessionmaker, reading, transaction
from portacare.collector.models import Host
from portacare.collector.schema import upgrade_schema
from portacare.collector.tokens import Principal, authenticate, issue_agent_token

from ...support.collector import T0


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
