"""Recent results filed into the history by check: none lost, none doubled, reads unchanged."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from portacare.collector.history import count_history, file_recent
from portacare.collector.models import RecentResult, Result

from ...support.collector import T0, Collector, result

HOSTS = ("db1", "db2", "web1", "web2", "dns1")
CHECKS = ("disk", "ntp", "replication")


def _push_rounds(c: Collector, rounds: int, start: int = 0) -> None:
    """Every host reports every check once a minute, hosts interleaved as agents are."""
    for minute in range(start, start + rounds):
        at = T0 + timedelta(minutes=minute)
        for host in HOSTS:
            status = "WARNING" if (minute + len(host)) % 7 == 0 else "OK"
            batch = [result(check, status, f"{check} at {minute}", at=at) for check in CHECKS]
            assert c.push(host, batch).status_code == 202


def _history(c: Collector, host: str, check: str, **params: Any) -> list[dict[str, Any]]:
    return list(c.get(f"/api/v1/hosts/{host}/checks/{check}/results", limit=500, **params))


def _every_history(c: Collector) -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {(h, k): _history(c, h, k) for h in HOSTS for k in CHECKS}


def _rows(c: Collector, model: type[RecentResult] | type[Result]) -> int:
    with c.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_filing_moves_every_result_once_and_reads_show_the_same_history(
    collector: Collector,
) -> None:
    _push_rounds(collector, 12)
    stored = 12 * len(HOSTS) * len(CHECKS)
    before = _every_history(collector)
    assert _rows(collector, RecentResult) == stored  # ingest only appends to the recent table
    assert len(before[("db1", "disk")]) == 12

    moved = file_recent(collector.sessions, collector.clock(), after_rows=1, chunk_rows=40)

    assert moved == stored
    assert (_rows(collector, RecentResult), _rows(collector, Result)) == (0, stored)
    assert _every_history(collector) == before


def test_filed_rows_are_in_the_history_index_order(collector: Collector) -> None:
    _push_rounds(collector, 6)
    file_recent(collector.sessions, collector.clock(), after_rows=1)
    with collector.sessions() as session:
        keys = session.execute(
            select(Result.host_id, Result.check, Result.observed_at).order_by(Result.id)
        ).all()
    assert keys == sorted(keys)  # one chunk: each check's results side by side


def test_history_reads_across_both_tables_newest_first(collector: Collector) -> None:
    _push_rounds(collector, 5)
    file_recent(collector.sessions, collector.clock(), after_rows=1)
    _push_rounds(collector, 5, start=5)  # these wait in the recent table
    assert _rows(collector, Result) == _rows(collector, RecentResult) > 0

    history = _history(collector, "db2", "ntp")
    assert [r["summary"] for r in history] == [f"ntp at {m}" for m in range(9, -1, -1)]
    since = (T0 + timedelta(minutes=3)).isoformat()
    assert [r["summary"] for r in _history(collector, "db2", "ntp", since=since)] == [
        f"ntp at {m}" for m in range(9, 2, -1)
    ]
    newest_three = collector.get("/api/v1/hosts/db2/checks/ntp/results", limit=3)
    assert [r["summary"] for r in newest_three] == ["ntp at 9", "ntp at 8", "ntp at 7"]
    # a late result observed before the filed ones takes its place by time
    late = [result("ntp", "CRITICAL", "ntp late", at=T0 + timedelta(minutes=2, seconds=30))]
    assert collector.push("db2", late).status_code == 202
    summaries = [r["summary"] for r in _history(collector, "db2", "ntp")]
    assert summaries[6:9] == ["ntp at 3", "ntp late", "ntp at 2"]


def test_a_move_waits_for_enough_results_or_for_its_oldest_to_age(collector: Collector) -> None:
    _push_rounds(collector, 2)
    pending = 2 * len(HOSTS) * len(CHECKS)
    sessions, clock = collector.sessions, collector.clock
    assert file_recent(sessions, clock(), after_rows=pending + 1) == 0
    assert file_recent(sessions, clock() + timedelta(seconds=59), after_rows=pending + 1) == 0
    assert _rows(collector, Result) == 0
    assert file_recent(sessions, clock() + timedelta(minutes=1), after_rows=pending + 1) == pending
    assert file_recent(sessions, clock() + timedelta(hours=1), after_rows=1) == 0  # nothing left


def test_movers_at_once_copy_no_result_twice(collector: Collector) -> None:
    """Collectors share one database: their movers may run together (here four threads)."""
    _push_rounds(collector, 20)
    stored = 20 * len(HOSTS) * len(CHECKS)
    moved: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def mover() -> None:
        try:
            start.wait()
            moved.append(
                file_recent(collector.sessions, collector.clock(), after_rows=1, chunk_rows=30)
            )
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=mover) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(moved) == stored
    assert (_rows(collector, RecentResult), _rows(collector, Result)) == (0, stored)
    with collector.sessions() as session:
        assert count_history(session) == stored


def test_serve_files_recent_results_by_itself(collector: Collector) -> None:
    _push_rounds(collector, 3)
    collector.clock.advance(minutes=2)  # the oldest is now past FILE_AFTER
    deadline = threading.Event()
    for _ in range(100):  # the background thread looks every FILE_EVERY_SECONDS
        if _rows(collector, RecentResult) == 0:
            break
        deadline.wait(0.1)
    assert _rows(collector, RecentResult) == 0
    assert _rows(collector, Result) == 3 * len(HOSTS) * len(CHECKS)


def test_postgresql_reclaims_the_moved_rows_at_once(on_postgres: Collector) -> None:
    """Each move leaves its rows dead; the mover vacuums rather than wait for autovacuum."""
    c = on_postgres
    _push_rounds(c, 4)
    file_recent(c.sessions, c.clock(), after_rows=1)
    with c.sessions() as session:
        for _ in range(100):  # statistics reach other sessions within a second or so
            session.rollback()
            vacuums = session.scalar(
                text(
                    "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'results_recent'"
                )
            )
            if vacuums:
                break
            time.sleep(0.1)
    assert vacuums == 1
