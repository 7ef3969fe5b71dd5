"""Group commit: batches stored together end exactly where storing them one by one puts them.

The same script of batches (new checks, repeats, late results, drops, interval
changes, failures that open and update tickets, recoveries, re-posted and
doubled batch ids) goes into two fresh databases: one batch per transaction
through the ticket-policy path, and as queued groups through ``IngestQueue``
(the bulk path plus the policy path for what needs it). Every table must match.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from portacare.collector import group_commit, loop_commit
from portacare.collector.bulk_ingest import Pending
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.group_commit import IngestQueue, commit_group
from portacare.collector.history import HISTORY_TABLES
from portacare.collector.ingest import ingest_batch
from portacare.collector.loop_commit import LoopIngest
from portacare.collector.models import (
    Batch,
    CheckState,
    Host,
    StateEvent,
    Ticket,
    TicketEvent,
)
from portacare.collector.schema import upgrade_schema
from portacare.collector.settings import Settings
from portacare.collector.tokens import authenticate, issue_agent_token
from portacare.collector.wire import BatchAccepted, BatchIn, batch_from

from ...support.collector import CUSTOMERS, T0, result
from ...support.databases import BACKENDS, fresh_database_url

HOSTS = ("a.acme.example", "b.acme.example", "c.other.example", "d.other.example", "e.acme.example")


def _at(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


def _batch(host: str, batch_id: str, results: list[dict[str, Any]], **agent: Any) -> BatchIn:
    return batch_from(
        {
            "host": host,
            "batch_id": batch_id,
            "agent": {"version": "test", "interval_s": 60, **agent},
            "results": results,
        }
    )


def _script() -> list[BatchIn]:
    a, b, c, d, e = HOSTS
    return [
        # e needs no ticket policy at all: the bulk path stores every one of its batches
        _batch(e, "e1", [result("disk", "OK", at=_at(0)), result("ntp", "OK", at=_at(0))]),
        _batch(e, "e2", [result("disk", "OK", "/ 41%", at=_at(1), metrics={"pct": 41.0})]),
        _batch(e, "e3", [result("disk", "OK", at=_at(-3))]),  # late: history only
        _batch(e, "e4", [], check_intervals={"disk": 120.0}),
        _batch(
            e,
            "e5",
            [
                result("disk", "OK", at=_at(2), details={"mounts": ["/"]}),
                result("ntp", "OK", at=_at(2)),
            ],
            dropped={
                "disk": {
                    "count": 2,
                    "first_observed_at": "2026-11-26T10:00:00Z",
                    "last_observed_at": "2026-11-26T10:30:00Z",
                }
            },
        ),
        _batch(e, "e1", [result("disk", "OK", at=_at(3))]),  # re-posted later: a duplicate
        # text that array literals must quote (PostgreSQL writes a group's rows as arrays)
        _batch(
            e,
            "e6",
            [
                result("disk", "OK", 'a "quoted", {braced} \\ back\\slash ü', at=_at(4)),
                result("ntp", "OK", "NULL", at=_at(4), duration_ms=None, metrics={'o"dd': -0.0}),
            ],
        ),
        _batch(a, "a1", [result("disk", "OK", at=_at(0)), result("ntp", "OK", at=_at(0))]),
        _batch(b, "b1", [result("disk", "WARNING", "/var 91%", at=_at(0))]),  # opens a ticket
        _batch(c, "c1", [result("dns", "OK", at=_at(0), metrics={"ms": 3.0})]),
        _batch(a, "a2", [result("disk", "OK", "/ 40%", at=_at(1), metrics={"pct": 40.0})]),
        _batch(b, "b2", [result("disk", "CRITICAL", "/var 99%", at=_at(1))]),  # raises it
        _batch(a, "a3", [result("ntp", "OK", at=_at(-5))]),  # late: history only
        _batch(c, "c2", [], check_intervals={"dns": 300.0}),  # a heartbeat
        _batch(
            c,
            "c3",
            [result("dns", "OK", at=_at(2))],
            dropped={
                "dns": {
                    "count": 4,
                    "first_observed_at": "2026-11-26T10:00:00Z",
                    "last_observed_at": "2026-11-26T11:00:00Z",
                }
            },
        ),
        _batch(d, "d1", [result("load", "OK", at=_at(0)), result("load", "WARNING", at=_at(1))]),
        _batch(a, "a1", [result("disk", "CRITICAL", at=_at(3))]),  # re-posted: a duplicate
        _batch(c, "c4", [result("dns", "OK", at=_at(3))]),
        _batch(c, "c4", [result("dns", "OK", at=_at(3))]),  # twice in one group
        _batch(b, "b3", [result("disk", "OK", at=_at(4))]),  # recovers, ticket still open
        _batch(a, "a4", [result("disk", "OK", at=_at(5)), result("ntp", "UNKNOWN", at=_at(5))]),
        _batch(d, "d2", [result("load", "OK", at=_at(6))]),
    ]


def _sorted(rows: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)  # None and numbers side by side


class _Database:
    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        upgrade_schema(self.engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.settings = Settings(database_url=url, sweep_in_serve=False, customers=CUSTOMERS)
        self.principals = {}
        with transaction(self.sessions) as session:
            for host in HOSTS:
                token = issue_agent_token(session, host, None, T0)
                self.principals[host] = authenticate(session, token)

    def pending(self, batch: BatchIn, minute: int) -> Pending:
        return Pending(self.principals[batch.host], batch, _at(minute))

    def contents(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row that matters, without surrogate ids, in a stable order."""
        with self.sessions() as s:
            host = {h.id: h.name for h in s.scalars(select(Host))}
            ticket_host = {t.id: (host[t.host_id], t.check) for t in s.scalars(select(Ticket))}
            return {
                "hosts": _sorted(
                    (
                        h.name,
                        h.customer,
                        h.last_seen,
                        h.interval_s,
                        h.check_intervals,
                        h.dropped,
                        h.worst_rank,
                        h.stale_at,
                    )
                    for h in s.scalars(select(Host))
                ),
                "batches": _sorted(
                    (b.batch_id, host[b.host_id], b.received_at, b.accepted)
                    for b in s.scalars(select(Batch))
                ),
                "results": _sorted(
                    (
                        host[r.host_id],
                        r.check,
                        r.status,
                        r.summary,
                        r.observed_at,
                        r.received_at,
                        r.duration_ms,
                        sorted(r.metrics.items()),
                        str(r.details),
                    )
                    for model in HISTORY_TABLES
                    for r in s.scalars(select(model))
                ),
                "states": _sorted(
                    (
                        host[c.host_id],
                        c.check,
                        c.status,
                        c.summary,
                        c.observed_at,
                        c.since,
                        sorted(c.metrics.items()),
                        c.ok_streak,
                        str(c.history),
                        c.ticket_pending,
                        c.stale_after,
                    )
                    for c in s.scalars(select(CheckState))
                ),
                "state_events": _sorted(
                    (host[e.host_id], e.check, e.previous_status, e.status, e.at)
                    for e in s.scalars(select(StateEvent))
                ),
                "tickets": _sorted(
                    (host[t.host_id], t.check, t.state, t.priority, t.check_status, t.summary)
                    for t in s.scalars(select(Ticket))
                ),
                # as stored: SQLite compares times as text, so the text must match too
                "stored_times": _sorted(
                    s.connection()
                    .exec_driver_sql(
                        "SELECT r.observed_at, r.received_at, c.observed_at, c.since, "
                        "c.stale_after FROM results r JOIN check_states c "
                        'ON c.host_id = r.host_id AND c."check" = r."check"'
                    )
                    .all()
                ),
                # and so must the hosts' and batch ids' columns the bulk path writes itself
                "stored_hosts": _sorted(
                    s.connection()
                    .exec_driver_sql(
                        "SELECT name, customer, last_seen, interval_s, check_intervals, dropped, "
                        "worst_rank, stale_at FROM hosts"
                    )
                    .all()
                ),
                "stored_batches": _sorted(
                    s.connection()
                    .exec_driver_sql("SELECT batch_id, received_at, accepted FROM batches")
                    .all()
                ),
                "ticket_events": _sorted(
                    (*ticket_host[e.ticket_id], e.kind, e.message, e.at)
                    for e in s.scalars(select(TicketEvent))
                ),
            }


@pytest.fixture(params=BACKENDS)
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[_Database]]:
    urls = [fresh_database_url(request.param, tmp_path / name) for name in ("one", "group")]
    databases = []
    for name, url in zip(("one", "group"), urls, strict=True):
        (tmp_path / name).mkdir()
        databases.append(_Database(next(url)))
    yield databases
    for database, url in zip(databases, urls, strict=True):
        database.engine.dispose()
        next(url, None)


class _WriterHold:
    """Hold the database's write lock from outside, so the writer thread's batches queue up."""

    def __init__(self, engine: Engine) -> None:
        self.connection = engine.connect()
        self.connection.begin()  # on SQLite the engine's BEGIN IMMEDIATE: the write lock
        if engine.dialect.name == "postgresql":
            self.connection.execute(text("LOCK TABLE hosts IN EXCLUSIVE MODE"))

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()


def _group_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(batches in the group, batches the bulk path answered) of every group stored."""
    sizes: list[tuple[int, int]] = []
    real = group_commit.stage_group

    def counting(session: Session, group: list[Pending], settings: Settings) -> Any:
        outcome, writes = real(session, group, settings)
        sizes.append((len(group), len(outcome.answers)))
        return outcome, writes

    monkeypatch.setattr(group_commit, "stage_group", counting)
    return sizes


def _one_by_one(database: _Database, script: list[BatchIn]) -> list[BatchAccepted]:
    """The script stored one batch per transaction through the ticket-policy path."""
    return [
        ingest_batch(database.sessions, database.principals[b.host], b, database.settings, _at(i))
        for i, b in enumerate(script)
    ]


def test_a_host_only_the_bulk_path_stores_is_stored_as_one_by_one(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    # no drops, no policy: the bulk path writes the host's columns last (None stays NULL)
    one, grouped = two_databases
    a = HOSTS[0]
    script = [
        _batch(a, "a1", [result("disk", "OK", at=_at(0))]),
        _batch(a, "a2", [result("disk", "OK", at=_at(1))], check_intervals={"disk": 120.0}),
    ]
    expected = _one_by_one(one, script)
    sizes = _group_sizes(monkeypatch)
    answers = [
        commit_group(grouped.sessions, grouped.settings, [grouped.pending(b, i)]).answers[0]
        for i, b in enumerate(script)
    ]
    assert sizes == [(1, 1), (1, 1)] and answers == expected
    assert grouped.contents() == one.contents()


def test_a_queued_group_ends_where_one_batch_at_a_time_does(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, grouped = two_databases
    script = _script()
    expected = _one_by_one(one, script)
    sizes = _group_sizes(monkeypatch)
    queue = IngestQueue(grouped.sessions, grouped.settings)
    hold = _WriterHold(grouped.engine)
    first = queue.submit(grouped.pending(script[0], 0))
    rest = [queue.submit(grouped.pending(b, i)) for i, b in enumerate(script) if i > 0]
    hold.release()
    answers = [f.result(timeout=60) for f in [first, *rest]]
    queue.close()

    # the waiting batches went as one group; the bulk path took e's and the early a1
    assert sum(n for n, _ in sizes) == len(script) and len(sizes) <= 2
    assert sum(bulk for _, bulk in sizes) >= 6
    # "c4" twice in one group: the first is stored, the second is a duplicate, as one by one
    assert answers == expected
    assert [a.duplicate for a in answers].count(True) == 3
    assert grouped.contents() == one.contents()


def test_a_defect_in_the_bulk_path_costs_no_batch(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, grouped = two_databases

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug in the bulk path")

    monkeypatch.setattr(group_commit, "stage_group", broken)
    queue = IngestQueue(grouped.sessions, grouped.settings)
    script = _script()
    futures = [queue.submit(grouped.pending(b, i)) for i, b in enumerate(script)]
    answers = [f.result(timeout=60) for f in futures]
    queue.close()
    for i, b in enumerate(script):
        ingest_batch(one.sessions, one.principals[b.host], b, one.settings, _at(i))
    assert sum(not a.duplicate for a in answers) == len(script) - 3
    assert grouped.contents() == one.contents()


def test_many_agents_at_once_store_every_batch_once(two_databases: list[_Database]) -> None:
    _, grouped = two_databases
    queue = IngestQueue(grouped.sessions, grouped.settings, max_group_results=50)
    answers: list[BatchAccepted] = []
    lock = threading.Lock()

    def agent(host: str) -> None:
        for n in range(20):
            batch = _batch(
                host, f"{host}-{n}", [result(f"c{k}", "OK", at=_at(n)) for k in range(5)]
            )
            got = queue.submit(grouped.pending(batch, n)).result(timeout=60)
            again = queue.submit(grouped.pending(batch, n)).result(timeout=60)  # a retry
            with lock:
                answers.extend([got, again])

    threads = [threading.Thread(target=agent, args=(h,)) for h in HOSTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()
    batches = 20 * len(HOSTS)
    assert sorted(a.duplicate for a in answers) == [False] * batches + [True] * batches
    rows = grouped.contents()
    assert len(rows["batches"]) == batches and len(rows["results"]) == 5 * batches
    assert {(s[0], s[1], s[7]) for s in rows["states"]} == {
        (h, f"c{k}", 20)
        for h in HOSTS
        for k in range(5)  # 20 OK results in a row each
    }
    assert rows["tickets"] == []


def _on_a_loop_of_its_own(
    main: Callable[[], Coroutine[Any, Any, list[BatchAccepted]]],
) -> list[BatchAccepted]:
    """``asyncio.run(main())`` on a thread of its own, as uvicorn runs the app.

    This thread may already run a loop (Playwright's sync API in the dashboard tests).
    """
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(main()))
        except BaseException as exc:  # re-raised in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert outcome, "the loop did not finish in time"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]  # type: ignore[no-any-return]


def test_a_group_stored_by_the_event_loop_ends_where_one_batch_at_a_time_does(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LoopIngest`` (the endpoint's ingest): the same script, posted by concurrent requests."""
    one, grouped = two_databases
    script = _script()
    expected = _one_by_one(one, script)
    sizes = _group_sizes(monkeypatch)
    ingest = LoopIngest(grouped.sessions, grouped.settings)

    async def first_then_the_rest_at_once() -> list[BatchAccepted]:
        pending = _pending(grouped, script)
        first = await ingest.store(pending[0].principal, pending[0].batch, pending[0].now)
        rest = await asyncio.gather(
            *(ingest.store(p.principal, p.batch, p.now) for p in pending[1:])
        )
        return [first, *rest]

    answers = _on_a_loop_of_its_own(first_then_the_rest_at_once)
    ingest.close()
    # two groups on the loop (the policy path's thread tries none: it only takes single batches)
    assert [n for n, _ in sizes] == [1, len(script) - 1]
    assert sum(bulk for _, bulk in sizes) >= 6
    assert answers == expected
    assert grouped.contents() == one.contents()


def test_the_event_loop_hands_a_full_group_over_at_once(two_databases: list[_Database]) -> None:
    _, grouped = two_databases
    ingest = LoopIngest(grouped.sessions, grouped.settings, max_group_results=10)

    async def agents() -> list[BatchAccepted]:
        batches = [
            _batch(host, f"{host}-{n}", [result(f"c{k}", "OK", at=_at(n)) for k in range(5)])
            for n in range(4)
            for host in HOSTS
        ]
        return await asyncio.gather(
            *(ingest.store(grouped.principals[b.host], b, _at(0)) for b in batches)
        )

    answers = _on_a_loop_of_its_own(agents)
    ingest.close()
    assert [a.accepted for a in answers] == [5] * 20
    assert len(grouped.contents()["results"]) == 100


def test_a_group_begins_only_while_fewer_commits_run_than_the_database_allows(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits run on threads (SQLite: one at a time; PostgreSQL: two); the rest wait, none lost."""
    _, grouped = two_databases
    entered, release = threading.Event(), threading.Event()
    timeline: list[tuple[str, float]] = []
    real_write, real_commit = loop_commit.begin_group, group_commit.OpenGroup.commit

    def write(*args: Any, **kwargs: Any) -> Any:
        timeline.append(("write", time.monotonic()))
        return real_write(*args, **kwargs)

    def held_commit(self: group_commit.OpenGroup) -> Any:
        entered.set()
        assert release.wait(60), "the test never let the commit go"
        outcome = real_commit(self)
        timeline.append(("committed", time.monotonic()))
        return outcome

    monkeypatch.setattr(loop_commit, "begin_group", write)
    monkeypatch.setattr(group_commit.OpenGroup, "commit", held_commit)
    ingest = LoopIngest(grouped.sessions, grouped.settings, max_group_results=10)
    most = loop_commit.concurrent_commits(grouped.sessions)
    assert most == (2 if grouped.engine.dialect.name == "postgresql" else 1)
    batches = [
        _batch(host, f"{host}-{n}", [result(f"c{k}", "OK", at=_at(n)) for k in range(5)])
        for n in range(4)
        for host in HOSTS
    ]

    async def agents() -> list[BatchAccepted]:
        def store(b: BatchIn) -> asyncio.Future[BatchAccepted]:
            return asyncio.ensure_future(ingest.store(grouped.principals[b.host], b, _at(0)))

        first = store(batches[0])
        assert await asyncio.to_thread(entered.wait, 30), "the first group never committed"
        rest = [store(b) for b in batches[1:]]
        await asyncio.sleep(0.3)  # many turns of the loop: no group past ``most`` may begin
        assert [kind for kind, _ in timeline] == ["write"] * most
        assert not any(answer.done() for answer in [first, *rest])
        release.set()
        return await asyncio.gather(first, *rest)

    answers = _on_a_loop_of_its_own(agents)
    ingest.close()
    assert [a.accepted for a in answers] == [5] * len(batches)
    assert len(grouped.contents()["results"]) == 5 * len(batches)
    groups = 1 + (len(batches) - 1 + 1) // 2  # the first alone, then 10 results each
    assert [kind for kind, _ in timeline].count("write") == groups
    assert [kind for kind, _ in timeline].count("committed") == groups
    running, most_running = 0, 0
    for kind, _ in sorted(timeline, key=lambda entry: entry[1]):
        running += 1 if kind == "write" else -1
        most_running = max(most_running, running)
    assert most_running == most


def test_a_commit_that_fails_costs_no_batch(
    two_databases: list[_Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group's commit fails on its thread: every batch goes the policy path, stored once."""
    one, grouped = two_databases
    script = _script()
    expected = _one_by_one(one, script)
    failed: list[int] = []
    real_commit = Session.commit

    def commit_failing_once(session: Session) -> None:
        if not failed:
            failed.append(1)
            session.rollback()
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real_commit(session)

    monkeypatch.setattr(Session, "commit", commit_failing_once)
    ingest = LoopIngest(grouped.sessions, grouped.settings)

    async def at_once() -> list[BatchAccepted]:
        return await asyncio.gather(
            *(ingest.store(p.principal, p.batch, p.now) for p in _pending(grouped, script))
        )

    answers = _on_a_loop_of_its_own(at_once)
    ingest.close()
    assert failed == [1]
    assert answers == expected
    assert grouped.contents() == one.contents()


def _pending(database: _Database, script: list[BatchIn]) -> list[Pending]:
    return [database.pending(b, i) for i, b in enumerate(script)]
