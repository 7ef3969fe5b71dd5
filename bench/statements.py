"""How many SQL statements one batch costs the collector: a count, not a timing.

The ingest path is called in-process on hosts whose checks already have a latest
state, as in the steady state; every statement the engine sends is counted (an
executemany is one).
"""

from __future__ import annotations

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
from portacare.collector.wire import BatchIn


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
    return BatchIn.model_validate(
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


def count(database_url: str, size: int, group: int) -> int:
    """Statements for one group commit of ``group`` batches of ``size`` results, one per host.

    The path ``POST /api/v1/results`` takes for results that need no ticket policy
    (``bulk_ingest.store_group`` in one transaction); tokens are served from the
    collector's cache under load, so no lookup is counted.
    """
    engine = make_engine(database_url)
    upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings(database_url=database_url, sweep_in_serve=False)
    principals = []
    with transaction(sessions) as session:
        for n in range(group):
            host = f"count-{size}-{group}-{n}.bench.example"
            principals.append(
                authenticate(session, issue_agent_token(session, host, None, utc_now()))
            )
    now = utc_now()

    def store(at: Any) -> None:
        with transaction(sessions) as session:
            pending = [Pending(p, _batch(p.host_name or "", size, at), at) for p in principals if p]
            assert not store_group(session, pending, settings).deferred

    store(now)  # every check has a latest state from here on, as in the steady state
    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", counted)
    store(now + timedelta(minutes=1))
    event.remove(engine, "before_cursor_execute", counted)
    engine.dispose()
    return statements
