"""SQLite's one writer, shared by processes: ``serve --workers``, a cron ``sweep``, a second serve.

Every writer queues on ``db.WriterLock`` (a thread lock, then an ``flock`` beside the
database) rather than in SQLite's busy handler, which sleeps in steps of up to
100 ms. The event loop never waits for it itself: while another process writes,
a group waits on a commit thread and the loop goes on answering.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portacare.collector.bulk_ingest import Pending
from portacare.collector.db import make_engine, make_sessionmaker, transaction, writer_lock
from portacare.collector.group_commit import OpenGroup, begin_group
from portacare.collector.history import count_history
from portacare.collector.models import Host
from portacare.collector.schema import upgrade_schema
from portacare.collector.settings import Settings
from portacare.collector.tokens import authenticate, issue_agent_token
from portacare.collector.wire import batch_from

from ...support.collector import T0, Collector, build_collector, result

# Another process writes: it opens a transaction (taking the writer lock), adds a host,
# says so, and commits only when told to.
_OTHER_WRITER = """
import sys
from portacare.checks import utc_now
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.tokens import issue_agent_token
engine = make_engine(sys.argv[1])
with transaction(make_sessionmaker(engine)) as session:
    issue_agent_token(session, "other-process.example", None, utc_now())
    session.flush()
    print("writing", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


class OtherProcess:
    """A second process holding SQLite's write lock until :meth:`commit`."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _OTHER_WRITER, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "writing"

    def commit(self) -> None:
        said, _ = self.process.communicate("\n", timeout=30)
        assert said.strip() == "committed" and self.process.returncode == 0

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)


@pytest.fixture
def other_process(sqlite_url: str) -> Iterator[Callable[[], OtherProcess]]:
    """Start another writer on the test's database; whatever happens, it ends with the test."""
    started: list[OtherProcess] = []

    def start() -> OtherProcess:
        started.append(OtherProcess(sqlite_url))
        return started[-1]

    yield start
    for other in started:
        other.end()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    upgrade_schema(make_engine(url))
    return url


@pytest.fixture
def on_sqlite(sqlite_url: str) -> Iterator[Collector]:
    yield from build_collector(sqlite_url)


def test_a_transaction_begins_once_another_process_has_committed(
    sqlite_url: str, other_process: Callable[[], OtherProcess]
) -> None:
    sessions = make_sessionmaker(make_engine(sqlite_url))
    other = other_process()
    seen: dict[str, Any] = {}

    def write() -> None:
        with transaction(sessions) as session:  # BEGIN IMMEDIATE after the lock: no busy error
            seen["host"] = session.scalar(
                select(Host.name).where(Host.name == "other-process.example")
            )

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive(), "a second writer began while another process held the lock"
    other.commit()
    writer.join(timeout=30)
    assert seen == {"host": "other-process.example"}  # it began after the other's commit


def test_the_event_loop_answers_while_another_process_writes(
    on_sqlite: Collector, other_process: Callable[[], OtherProcess]
) -> None:
    c = on_sqlite
    assert c.push("sw1", [result("disk", "OK", at=T0)]).status_code == 202
    other = other_process()
    answers: dict[str, Any] = {}
    pushing = threading.Thread(
        target=lambda: answers.update(push=c.push("sw1", [result("ntp", "OK", at=T0)]))
    )
    pushing.start()
    pushing.join(timeout=0.5)
    assert pushing.is_alive(), "a batch was stored while another process held the lock"
    health = threading.Thread(target=lambda: answers.update(health=c.client.get("/healthz")))
    health.start()
    health.join(timeout=10)
    assert not health.is_alive(), "the event loop itself waited for the other process"
    assert answers["health"].status_code == 200
    other.commit()
    pushing.join(timeout=30)
    assert answers["push"].status_code == 202
    assert answers["push"].json() == {"accepted": 1, "duplicate": False}
    with c.sessions() as session:
        assert count_history(session) == 2


def test_a_lock_taken_for_a_transaction_that_never_began_is_given_back(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        principal = authenticate(session, issue_agent_token(session, "sw1", None, T0))
    batch = batch_from({"host": "sw1", "batch_id": "b1", "results": [result("disk", "OK", at=T0)]})
    lock = writer_lock(engine)
    assert lock is not None and lock.try_acquire()

    def unreachable(*_: Any, **__: Any) -> Any:
        raise OperationalError("connect", {}, Exception("unable to open database file"))

    monkeypatch.setattr(Session, "connection", unreachable)
    settings = Settings(database_url=sqlite_url, sweep_in_serve=False)
    opened = begin_group(sessions, settings, [Pending(principal, batch, T0)], lock_held=True)
    assert not isinstance(opened, OpenGroup)
    monkeypatch.undo()
    assert lock.try_acquire(), "the lock stayed taken by a transaction that never began"
    lock.release()
