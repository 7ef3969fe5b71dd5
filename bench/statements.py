"""What one batch costs the collector's storing, in-process: SQL statements and CPU time.

The ingest path is called in-process on hosts whose checks already have a latest
state, as in the steady state; every statement the engine sends is counted (an
executemany is one). CPU time is this process's own (``time.process_time``, not
the database server's) per batch stored, which moves far less between sittings on
a shared machine than throughput under wrk does; its baseline is the plain
insert-per-batch of ``bench/bare_app.py`` timed the same way in the same run.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from portacare.checks import utc_now
from portacare.collector.bulk_ingest import Pending, store_group
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.schema import upgrade_schema
from portacare.collector.settings import Settings
from portacare.collector.tokens import authenticate, issue_agent_token
from portacare.collector.wire import BatchIn, batch_from


def _batch(host: str, size: int, at: Any) -> BatchIn:
    results = [
        {
            "check": f"c{i % 10:02d}",
            "status": "OK",
            "summary": "fine",
            "observed_at": (at - timedelta(minutes=(size - 1 - i) // 10)).isoformat(),
            "metrics": {"value": 1.5},
        }
        for i in range(size)
    ]
    return batch_from(
        {
            "host": host,
            "batch_id": uuid.uuid4().hex,
            "agent": {"interval_s": 60},
            "results": results,
        }
    )


def count_plain(database_url: str, size: int) -> int:
    """Statements of the plain insert-per-batch baseline (bench/bare_app.py), same counting."""
    from .bare_app import metadata, store_batch

    engine = make_engine(database_url)
    metadata.create_all(engine)
    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", counted)
    store_batch(engine, _batch("plain.bench.example", size, utc_now()))
    event.remove(engine, "before_cursor_execute", counted)
    engine.dispose()
    return statements


class _Hosts:
    """``group`` hosts with a token each, storing one batch each per group commit."""

    def __init__(self, database_url: str, size: int, group: int, tag: str) -> None:
        self.engine = make_engine(database_url)
        upgrade_schema(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.settings = Settings(database_url=database_url, sweep_in_serve=False)
        self.size = size
        self.principals = []
        with transaction(self.sessions) as session:
            for n in range(group):
                host = f"{tag}-{size}-{group}-{n}.bench.example"
                self.principals.append(
                    authenticate(session, issue_agent_token(session, host, None, utc_now()))
                )
        self.at = utc_now()
        self.store()  # every check has a latest state from here on, as in the steady state

    def store(self) -> None:
        """One group commit, a minute after the previous one."""
        self.at += timedelta(minutes=1)
        at, size = self.at, self.size
        with transaction(self.sessions) as session:
            pending = [
                Pending(p, _batch(p.host_name or "", size, at), at) for p in self.principals if p
            ]
            assert not store_group(session, pending, self.settings).deferred


def count(database_url: str, size: int, group: int) -> int:
    """Statements for one group commit of ``group`` batches of ``size`` results, one per host.

    The path ``POST /api/v1/results`` takes for results that need no ticket policy
    (``bulk_ingest.store_group`` in one transaction); tokens are served from the
    collector's cache under load, so no lookup is counted.
    """
    hosts = _Hosts(database_url, size, group, "count")
    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(hosts.engine, "before_cursor_execute", counted)
    hosts.store()
    event.remove(hosts.engine, "before_cursor_execute", counted)
    hosts.engine.dispose()
    return statements


def cpu_per_batch(database_url: str, size: int, group: int, batches: int) -> float:
    """Milliseconds of this process's CPU per batch stored by group commits of ``group``."""
    hosts = _Hosts(database_url, size, group, "cpu")
    for _ in range(5):  # warm caches: compiled statements, connections
        hosts.store()
    started = time.process_time()
    rounds = max(1, batches // group)
    for _ in range(rounds):
        hosts.store()
    spent = time.process_time() - started
    hosts.engine.dispose()
    return spent / (rounds * group) * 1000


def cpu_per_plain_batch(database_url: str, size: int, batches: int) -> float:
    """The same for the plain insert-per-batch baseline: one transaction per batch."""
    from .bare_app import metadata, store_batch

    engine = make_engine(database_url)
    metadata.create_all(engine)
    ready = [_batch("plain.bench.example", size, utc_now()) for _ in range(batches + 5)]
    for batch in ready[:5]:
        store_batch(engine, batch)
    started = time.process_time()
    for batch in ready[5:]:
        store_batch(engine, batch)
    spent = time.process_time() - started
    engine.dispose()
    return spent / batches * 1000
