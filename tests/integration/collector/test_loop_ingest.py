"""The event loop stores groups itself (``loop_commit``), so it must never be held for long.

On PostgreSQL another writer can hold a host's row (a NOC action, a second
collector): the loop's group gives up after ``GROUP_LOCK_TIMEOUT`` and hands its
batches to the writer thread, which waits for the row; other hosts' batches are
answered meanwhile. After the database was unreachable, groups go to the writer
thread for a while, so the loop never tries to connect to a server that is away.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from portacare.collector import loop_commit
from portacare.collector.errors import Unavailable
from portacare.collector.group_commit import GROUP_LOCK_TIMEOUT

from ...support.collector import T0, Collector, result


def _until_a_query_waits_for_a_lock(c: Collector) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with c.sessions() as watcher:
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the locked host's batch never reached its row lock")


def test_a_host_locked_elsewhere_does_not_hold_other_hosts_batches(
    on_postgres: Collector,
) -> None:
    c = on_postgres
    for host in ("locked", "free"):
        assert c.push(host, [result("disk", "OK", at=T0)]).status_code == 202
    later = T0 + timedelta(minutes=1)
    answers: dict[str, Any] = {}
    with c.sessions() as other:  # another writer holds the host's row
        other.execute(text("SELECT id FROM hosts WHERE name = 'locked' FOR UPDATE"))
        waiting = threading.Thread(
            target=lambda: answers.update(locked=c.push("locked", [result("disk", "OK", at=later)]))
        )
        waiting.start()
        _until_a_query_waits_for_a_lock(c)  # the loop's group for "locked" waits for the row
        free = threading.Thread(
            target=lambda: answers.update(free=c.push("free", [result("disk", "OK", at=later)]))
        )
        free.start()
        free.join(timeout=30)  # with the row still locked: the loop is not held by it
        assert not free.is_alive(), "another host's batch waited for a row it does not need"
        assert answers["free"].status_code == 202
        assert waiting.is_alive(), "the locked host's batch cannot be stored before the row is free"
        other.rollback()
    waiting.join(timeout=60)
    assert answers["locked"].status_code == 202
    assert answers["locked"].json() == {"accepted": 1, "duplicate": False}
    assert len(c.get("/api/v1/hosts/locked/checks/disk/results")) == 2
    assert GROUP_LOCK_TIMEOUT.endswith("s")


def test_after_the_database_was_away_groups_go_to_the_writer_thread_for_a_while(
    on_postgres: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One unreachable answer from a group on the loop: the next groups are the thread's."""
    real = loop_commit.begin_group
    calls = {"loop": 0}

    def away_once(*args: Any, **kwargs: Any) -> Any:
        calls["loop"] += 1
        if calls["loop"] == 1:
            return Unavailable("database unavailable: test")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_commit, "begin_group", away_once)
    monkeypatch.setattr(loop_commit, "RECOVERY_SECONDS", 3.0)
    started = time.monotonic()
    first = on_postgres.push("sw1", [result("disk", "OK")])
    assert first.status_code == 202  # the thread stored it: the database is in fact there
    for minute in (1, 2):
        at = T0 + timedelta(minutes=minute)
        assert on_postgres.push("sw1", [result("disk", "OK", at=at)]).status_code == 202
    assert time.monotonic() - started < 3.0, "too slow a machine to tell the two apart"
    assert calls["loop"] == 1  # within RECOVERY_SECONDS the loop tried no group itself
    time.sleep(4.0 - (time.monotonic() - started))  # the 3 s began after ``started``
    again = on_postgres.push("sw1", [result("disk", "OK", at=T0 + timedelta(minutes=9))])
    assert again.status_code == 202
    assert calls["loop"] == 2  # and afterwards it stores groups itself again
