"""Late results after an outage: applied in observation order, one ticket, no notification storm."""

from __future__ import annotations

from datetime import timedelta

from ...support.collector import T0, Collector, outbox, result, sweep

HOST = "sw1.acme.example"


def _ago(minutes: float) -> object:
    return T0 - timedelta(minutes=minutes)


def test_a_failure_that_recovered_inside_the_replay_is_one_quiet_resolved_ticket(
    staffed: Collector,
) -> None:
    # two hours offline: disk failed 110 minutes ago and recovered 100 minutes ago
    replay = [result("disk", "CRITICAL", "/var 97%", at=_ago(110))]
    replay += [result("disk", "OK", "/var 60%", at=_ago(m)) for m in range(100, -10, -10)]
    # the agent sends failures first: the collector must still apply them in observed order
    response = staffed.push(HOST, list(reversed(replay)))
    assert response.status_code == 202
    [ticket] = staffed.get("/api/v1/tickets", host=HOST)
    assert ticket["state"] == "resolved"
    timeline = staffed.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[:2] == ["opened", "reported_late"]
    assert "resolved" in kinds
    assert "happened while the host could not report" in timeline[1]["message"]
    assert outbox(staffed) == []  # nobody paged for what is already over
    assert sweep(staffed).late_announced == 0
    checks = staffed.get(f"/api/v1/hosts/{HOST}/checks")
    assert [(c["check"], c["status"]) for c in checks] == [("disk", "OK")]


def test_a_late_failure_still_failing_is_announced_once_the_host_caught_up(
    staffed: Collector,
) -> None:
    staffed.push(HOST, [result("disk", "CRITICAL", "/var 97%", at=_ago(90))])
    [ticket] = staffed.get("/api/v1/tickets", host=HOST)
    assert ticket["state"] == "open"
    assert outbox(staffed) == []
    assert sweep(staffed).late_announced == 0  # the host has not caught up yet
    staffed.push(HOST, [result("disk", "CRITICAL", "/var 98%", at=T0)])
    assert sweep(staffed).late_announced == 1
    assert sweep(staffed).late_announced == 0
    assert [k for k, _ in outbox(staffed)] == ["opened", "opened"]


def test_an_older_batch_after_a_newer_one_changes_only_history(staffed: Collector) -> None:
    staffed.push(HOST, [result("disk", "OK", at=T0)])
    staffed.push(HOST, [result("disk", "CRITICAL", at=_ago(5))])
    assert staffed.get("/api/v1/tickets", host=HOST) == []
    statuses = [r["status"] for r in staffed.get(f"/api/v1/hosts/{HOST}/checks/disk/results")]
    assert statuses == ["OK", "CRITICAL"]


def test_results_a_full_spool_dropped_are_shown_on_the_host(staffed: Collector) -> None:
    dropped = {
        "disk": {
            "count": 7,
            "first_observed_at": "2026-11-26T10:00:00Z",
            "last_observed_at": "2026-11-26T10:06:00Z",
        }
    }
    staffed.push(HOST, [result("disk", "OK")], dropped=dropped)
    staffed.push(
        HOST,
        [],
        dropped={
            **dropped,
            "disk": {**dropped["disk"], "count": 3, "last_observed_at": "2026-11-26T10:09:00Z"},
        },
    )
    [host] = staffed.get("/api/v1/hosts")
    assert host["dropped_results"] == {
        "disk": {
            "count": 10,
            "first_observed_at": "2026-11-26T10:00:00Z",
            "last_observed_at": "2026-11-26T10:09:00Z",
        }
    }
