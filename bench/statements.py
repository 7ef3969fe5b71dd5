"""How many SQL statements one batch costs the collector: a count, not a timing.

The ingest path is called in-process (``ingest_batch`` with the principal the
token stands for) on a host whose checks already have a latest state, as in the
steady state; every statement the engine sends is counted (an executemany is one).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from portacare.checks import utc_now
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.ingest import ingest_batch
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


def count(database_url: str, size: int) -> int:
    """Statements for one authenticated batch of ``size`` results (token lookup included)."""
    engine = make_engine(database_url)
    upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings(database_url=database_url, sweep_in_serve=False)
    with transaction(sessions) as session:
        token = issue_agent_token(session, f"count-{size}.bench.example", None, utc_now())
    with sessions() as session:
        principal = authenticate(session, token)
    assert principal is not None
    now = utc_now()
    ingest_batch(sessions, principal, _batch(principal.host_name or "", size, now), settings, now)
    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", counted)
    later = now + timedelta(minutes=1)
    with sessions() as session:
        authenticate(session, token)
    ingest_batch(
        sessions, principal, _batch(principal.host_name or "", size, later), settings, later
    )
    event.remove(engine, "before_cursor_execute", counted)
    engine.dispose()
    return statements
