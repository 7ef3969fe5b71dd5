"""The spool: results stay on disk until acknowledged; a retried batch keeps its id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portacare.agent.spool import Spool
from portacare.agent.transport import Backoff
from portacare.checks import CheckResult, Status

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _result(i: int, status: Status = Status.OK) -> CheckResult:
    return CheckResult(status, f"run {i}", {"n": i}, observed_at=T0 + timedelta(seconds=i))


def test_a_batch_is_resent_unchanged_until_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    for i in range(5):
        spool.add("disk", _result(i))
    first = spool.next_batch(3)
    assert first is not None
    assert [r["summary"] for r in first.results] == ["run 0", "run 1", "run 2"]
    spool.add("disk", _result(5))
    again = spool.next_batch(3)
    assert again == first  # same id, same rows: the collector stores them once
    assert spool.acknowledge(first.batch_id) == 3
    rest = spool.next_batch(10)
    assert rest is not None and rest.batch_id != first.batch_id
    assert [r["summary"] for r in rest.results] == ["run 3", "run 4", "run 5"]
    spool.acknowledge(rest.batch_id)
    assert spool.next_batch(10) is None
    assert spool.depth() == 0
    assert spool.meta("last_push_at") is not None


def test_spooled_results_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    spool.add("disk", _result(1, Status.CRITICAL))
    cut = spool.next_batch(10)
    spool.close()
    reopened = Spool(path)
    assert reopened.depth() == 1
    assert reopened.next_batch(10) == cut
    assert [(r.check, r.status) for r in reopened.last_results()] == [("disk", Status.CRITICAL)]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_last_result_is_the_newest_observed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add("ntp", _result(5, Status.WARNING))
    spool.add("ntp", _result(1, Status.OK))  # late arrival of an older result
    assert spool.last_results()[0].status is Status.WARNING


def test_a_refused_batch_is_set_aside_not_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add("disk", _result(1))
    batch = spool.next_batch(10)
    assert batch is not None
    spool.set_aside(batch.batch_id, "HTTP 422: results.0.status")
    assert spool.depth() == 0
    assert spool.refused_count() == 1


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    import random

    backoff = Backoff(base=1, cap=60, rng=random.Random(7))
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[-3:]) > 4  # it really grows
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_a_full_spool_drops_the_oldest_ok_results_and_keeps_every_failure(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=4000)
    for i in range(40):
        status = Status.CRITICAL if i % 10 == 0 else Status.OK
        spool.add("disk", _result(i, status))
    batch = spool.next_batch(1000)
    assert batch is not None
    kept = [(r["status"], r["summary"]) for r in batch.results]
    failures = {s for st, s in kept if st == "CRITICAL"}
    assert failures == {"run 30", "run 20", "run 10", "run 0"}  # every failure kept
    oks = [int(s.split()[1]) for st, s in kept if st == "OK"]
    assert oks == sorted(oks) and oks[-1] == 39  # the newest OK results survive, in order
    assert sum(len(json.dumps(r, separators=(",", ":"))) for r in batch.results) <= 4000
    dropped = batch.dropped["disk"]
    assert dropped["count"] == 36 - len(oks)
    assert dropped["first_observed_at"] == "2026-11-26T12:00:01Z"
    assert spool.dropped() == {}  # the report left with the batch...
    assert spool.next_batch(1000) == batch  # ...and is re-sent with it until acknowledged
    spool.acknowledge(batch.batch_id)
    assert spool.next_batch(1000) is None


def test_failures_alone_may_exceed_the_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=500)
    for i in range(10):
        spool.add("security", _result(i, Status.CRITICAL))
    assert spool.depth() == 10


def test_replay_sends_failures_newest_first_then_ok_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    statuses = [Status.OK, Status.WARNING, Status.OK, Status.CRITICAL, Status.OK]
    for i, status in enumerate(statuses):
        spool.add("ntp", _result(i, status))
    cut = []
    while (batch := spool.next_batch(2)) is not None:
        cut.append(sorted(r["summary"] for r in batch.results))
        spool.acknowledge(batch.batch_id)
    assert cut == [["run 1", "run 3"], ["run 0", "run 2"], ["run 4"]]
    one_at_a_time = Spool(tmp_path / "other.sqlite3")
    for i, status in enumerate(statuses):
        one_at_a_time.add("ntp", _result(i, status))
    order = []
    while (batch := one_at_a_time.next_batch(1)) is not None:
        order.append(batch.results[0]["summary"])
        one_at_a_time.acknowledge(batch.batch_id)
    assert order == ["run 3", "run 1", "run 0", "run 2", "run 4"]
