"""Check results' history in two tables: appended as they arrive, filed by check in runs.

The NOC reads a check's history newest first through an index ordered by (host,
check, time). Results arrive ordered by time across every host, so each one
written straight into that index lands on a page of its own; once the index
outgrows memory every result costs a page read and a page rewritten to the
write-ahead log and checkpointed. On SQLite under wrk (batches of 10, 1,000
agents, 10 checks each) that took the collector from 20,900 to 11,100 results/s
as its file grew from 60 to 500 MB.

So ingest appends to ``results_recent``, a table small enough for its own index
to stay in memory, and :func:`file_recent` moves its rows into ``results``
sorted by (host, check, time) once there are ``FILE_AFTER_ROWS`` of them or the
oldest waited ``FILE_AFTER``: the new results of one check then fill one page of
the big index together (the merge step of a log-structured merge tree).

A move is a few transactions, each over a range of hosts of about
``CHUNK_ROWS`` rows, so no writer waits long for one. Each inserts its rows into
``results`` and deletes them from ``results_recent`` in the same transaction: a
reader sees every result in exactly one of the tables. On PostgreSQL the delete
feeds the insert in one statement (``DELETE ... RETURNING``), so collectors
filing at the same moment never copy a row twice; SQLite has one writer.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Row, delete, func, insert, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from .db import reading, transaction
from .models import RecentResult, Result

__all__ = [
    "FILE_AFTER_ROWS",
    "FILE_AFTER",
    "FILE_EVERY_SECONDS",
    "CHUNK_ROWS",
    "HISTORY_TABLES",
    "file_recent",
    "check_history",
    "count_history",
]

#: a move waits for this many results, so that each check brings several to its page
FILE_AFTER_ROWS = 200_000
#: ... or for its oldest result to be this old, so a quiet collector files too
FILE_AFTER = timedelta(minutes=1)
#: how often ``serve`` asks whether a move is due (one indexed read)
FILE_EVERY_SECONDS = 1.0
#: results per transaction of a move (one range of hosts): about 0.1 s of the write lock
CHUNK_ROWS = 10_000
#: where a result may be: waiting to be filed, or filed
HISTORY_TABLES = (RecentResult, Result)

_COLUMNS = tuple(c.name for c in RecentResult.__table__.columns if c.name != "id")
_FILING_ORDER = ("host_id", "check", "observed_at", "id")


def file_recent(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    after_rows: int = FILE_AFTER_ROWS,
    after: timedelta = FILE_AFTER,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Move recent results into the history when a move is due; the number moved."""
    with reading(factory) as session:
        first, last, low_host, high_host = session.execute(
            select(
                func.min(RecentResult.id),
                func.max(RecentResult.id),
                func.min(RecentResult.host_id),
                func.max(RecentResult.host_id),
            )
        ).one()
        if first is None:
            return 0
        postgresql = session.get_bind().dialect.name == "postgresql"
        pending = last - first + 1
        if pending < after_rows:
            oldest = session.scalar(
                select(RecentResult.received_at).where(RecentResult.id == first)
            )
            if oldest is None or now - oldest < after:
                return 0
    moved = 0
    for low, high in _host_ranges(low_host, high_host, math.ceil(pending / chunk_rows)):
        with transaction(factory) as session:
            moved += _move(session, RecentResult.id <= last, low, high, postgresql)
    # nothing moved: another collector's move took them, and vacuums after it
    if moved and postgresql:
        _vacuum_recent(factory)
    return moved


def _vacuum_recent(factory: sessionmaker[Session]) -> None:
    """Make the moved rows' space reusable now, not at autovacuum's next visit.

    Every move leaves its rows dead in ``results_recent``; autovacuum looks once a
    minute at most, and at 10,000 results/s the table and its index had grown to
    130 MB of dead rows (0 autovacuums) within 40 s. SQLite reuses the freed pages itself.
    """
    with factory() as session:
        connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        # another collector's vacuum of the table is as good as ours: never wait for it
        connection.exec_driver_sql("VACUUM (SKIP_LOCKED) results_recent")


def _host_ranges(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` half-open ranges of host ids covering ``low`` to ``high``."""
    step = max(1, math.ceil((high + 1 - low) / max(1, parts)))
    return [(start, min(start + step, high + 1)) for start in range(low, high + 1, step)]


def _move(
    session: Session, up_to: ColumnElement[bool], low: int, high: int, postgresql: bool
) -> int:
    """Move one range of hosts' recent results into ``results``, sorted for its index."""
    chosen = (up_to, RecentResult.host_id >= low, RecentResult.host_id < high)
    if postgresql:
        taken = (
            delete(RecentResult)
            .where(*chosen)
            .returning(*(RecentResult.__table__.c[name] for name in _COLUMNS))
        )
        moved = taken.cte("moved")
        rows = select(*(moved.c[name] for name in _COLUMNS)).order_by(
            *(moved.c[name] for name in _FILING_ORDER if name != "id")
        )
        filing = insert(Result).add_cte(moved).from_select(_COLUMNS, rows)
        done = session.execute(filing.execution_options(preserve_rowcount=True))
        return int(cast(CursorResult[Any], done).rowcount)
    recent = RecentResult.__table__.c
    rows = (
        select(*(recent[name] for name in _COLUMNS))
        .where(*chosen)
        .order_by(*(recent[name] for name in _FILING_ORDER))
    )
    session.execute(insert(Result).from_select(_COLUMNS, rows))
    done = session.execute(delete(RecentResult).where(*chosen))
    return int(cast(CursorResult[Any], done).rowcount)


def check_history(
    session: Session, host_id: int, check: str, since: datetime | None, limit: int
) -> list[Row[Any]]:
    """A check's results newest first, from both tables: status, summary, observed_at, metrics."""
    newest = []
    for model in HISTORY_TABLES:
        shown = (model.status, model.summary, model.observed_at, model.metrics)
        query = select(*shown, model.received_at, model.id).where(
            model.host_id == host_id, model.check == check
        )
        if since is not None:
            query = query.where(model.observed_at >= since)
        query = query.order_by(model.observed_at.desc(), model.id.desc()).limit(limit)
        newest.append(select(query.subquery()))
    both = union_all(*newest).subquery()
    # one batch is filed whole (a host's results move together), so ids only ever break
    # ties within one table; results observed at the same moment show the later received first
    order = (both.c.observed_at.desc(), both.c.received_at.desc(), both.c.id.desc())
    return list(session.execute(select(both).order_by(*order).limit(limit)).all())


def count_history(session: Session) -> int:
    """Results stored, filed or not."""
    return sum(
        int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in HISTORY_TABLES
    )
