"""A check going WARNING or CRITICAL opens one prioritized ticket; repeats update it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ...support.collector import T0, Collector, result


def _tickets(c: Collector, **params: object) -> list[dict]:
    return c.get("/api/v1/tickets", **params)


@pytest.mark.parametrize(
    ("check", "status", "priority", "rt", "first_response_due"),
    [
        # Thursday 12:00 UTC; P3/P4 due in business time of the default Mon-Fri 09-17 calendar
        pytest.param("security", "CRITICAL", 1, 80, "2026-11-26T13:00:00Z", id="security-p1"),
        pytest.param("disk", "CRITICAL", 2, 60, "2026-11-26T14:00:00Z", id="disk-p2"),
        pytest.param("disk", "WARNING", 3, 40, "2026-11-27T12:00:00Z", id="disk-p3"),
        pytest.param("backups", "WARNING", 4, 20, "2026-11-30T12:00:00Z", id="backups-p4"),
        pytest.param("ntp", "UNKNOWN", 4, 20, "2026-11-30T12:00:00Z", id="unknown-p4"),
        pytest.param("check_load", "CRITICAL", 2, 60, "2026-11-26T14:00:00Z", id="unlisted-p2"),
    ],
)
def test_a_failing_check_opens_a_ticket_with_the_policy_priority(
    collector: Collector, check: str, status: str, priority: int, rt: int, first_response_due: str
) -> None:
    collector.push("sw1", [result(check, status, "it broke")])
    [ticket] = _tickets(collector)
    assert ticket["host"] == "sw1"
    assert ticket["check"] == check
    assert (ticket["priority"], ticket["rt_priority"]) == (priority, rt)
    assert ticket["state"] == "open"
    assert ticket["opened_at"] == "2026-11-26T12:00:00Z"
    assert ticket["first_response_due"] == first_response_due
    detail = collector.get(f"/api/v1/tickets/{ticket['number']}")
    assert detail["timeline"][0]["kind"] == "opened"
    assert "it broke" in detail["timeline"][0]["message"]


def test_ok_results_open_nothing(collector: Collector) -> None:
    collector.push("sw1", [result("disk", "OK"), result("ntp", "OK")])
    assert _tickets(collector) == []


def test_one_open_ticket_per_host_and_check_and_a_repeat_updates_it(collector: Collector) -> None:
    collector.push("sw1", [result("disk", "WARNING", "/var 86%")])
    collector.clock.advance(minutes=5)
    collector.push("sw1", [result("disk", "WARNING", "/var 87%", at=T0 + timedelta(minutes=5))])
    collector.clock.advance(minutes=5)
    collector.push("sw1", [result("disk", "CRITICAL", "/var 96%", at=T0 + timedelta(minutes=10))])
    collector.push("sw2", [result("disk", "WARNING", "/ 90%")])
    tickets = _tickets(collector, host="sw1")
    assert len(tickets) == 1
    [ticket] = tickets
    assert ticket["priority"] == 2  # raised from P3 when it went CRITICAL
    assert ticket["rt_priority"] == 60
    assert ticket["summary"] == "/var 96%"
    # the P2 first response runs from the original logging time (12:00), not from the raise
    assert ticket["first_response_due"] == "2026-11-26T14:00:00Z"
    assert [e["role"] for e in ticket["escalations"]] == [
        "technical_support_manager",
        "customer_relations_manager",
        "cto",
    ]
    timeline = collector.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "check_changed", "priority_changed"]
    assert len(_tickets(collector)) == 2


def test_critical_then_warning_does_not_lower_the_priority(collector: Collector) -> None:
    collector.push("sw1", [result("disk", "CRITICAL")])
    collector.push("sw1", [result("disk", "WARNING", at=T0 + timedelta(minutes=1))])
    [ticket] = _tickets(collector)
    assert ticket["priority"] == 2


def test_filters_of_the_ticket_queue(collector: Collector) -> None:
    collector.push("sw1", [result("disk", "CRITICAL"), result("backups", "WARNING")])
    collector.push("sw2", [result("ntp", "WARNING")])
    assert {t["check"] for t in _tickets(collector, priority=2)} == {"disk"}
    assert {t["check"] for t in _tickets(collector, host="sw2")} == {"ntp"}
    assert len(_tickets(collector, state="open")) == 3
    assert _tickets(collector, state="resolved") == []
    queue = _tickets(collector)
    dues = [t["first_response_due"] for t in queue]
    assert dues == sorted(dues)  # nearest deadline first


def test_warning_then_critical_in_one_batch_is_one_raised_ticket(collector: Collector) -> None:
    collector.push(
        "sw1",
        [
            result("disk", "WARNING", "/var 88%"),
            result("disk", "CRITICAL", "/var 97%", at=T0 + timedelta(seconds=30)),
        ],
    )
    [ticket] = _tickets(collector)
    assert ticket["priority"] == 2
    assert [e["role"] for e in ticket["escalations"]] == [
        "technical_support_manager",
        "customer_relations_manager",
        "cto",
    ]
