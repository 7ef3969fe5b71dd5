"""Abuse: repeated bad tokens slowed down, limits answered clearly, retention pruning."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portacare.collector.history import count_history
from portacare.collector.models import Batch, CheckState, Ticket
from portacare.collector.retention import prune

from ...support.collector import T0, Collector, result


def test_repeated_authentication_failures_are_slowed_down(collector: Collector) -> None:
    body = {"host": "sw1", "batch_id": "b", "results": []}
    for _ in range(10):
        bad = collector.client.post(
            "/api/v1/results", json=body, headers=collector.auth("pc_guess")
        )
        assert bad.status_code == 401
    good = collector.agent_token("sw1")
    throttled = collector.client.post("/api/v1/results", json=body, headers=collector.auth(good))
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


def test_batch_and_field_limits_are_clear_422s(collector: Collector) -> None:
    too_many = [result("disk", "OK")] * 1001
    response = collector.push("sw1", too_many)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "results"
    long_summary = collector.push("sw1", [result("disk", "OK", "x" * 5000)])
    assert long_summary.json()["detail"][0]["field"] == "results.0.summary"
    metrics = {f"m{i}": 1.0 for i in range(300)}
    many_metrics = collector.push("sw1", [result("disk", "OK", metrics=metrics)])
    assert many_metrics.json()["detail"][0]["field"] == "results.0.metrics"
    long_check = collector.push("sw1", [result("c" * 200, "OK")])
    assert long_check.json()["detail"][0]["field"] == "results.0.check"


def _history(c: Collector) -> int:
    with c.sessions() as session:
        return count_history(session)


def _count(c: Collector, model: type) -> int:
    with c.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_retention_prunes_history_but_never_latest_state_or_tickets(collector: Collector) -> None:
    old = [
        result("disk", "CRITICAL", f"old {i}", at=T0 - timedelta(days=20, minutes=i))
        for i in range(30)
    ]
    collector.push("sw1", old)
    collector.push("sw1", [result("ntp", "OK", at=T0)])
    assert _history(collector) == 31
    report = prune(collector.sessions, T0 - timedelta(days=14), chunk=7)
    assert report.results == 30
    assert _history(collector) == 1
    assert _count(collector, CheckState) == 2  # disk's latest state stays, however old
    assert _count(collector, Ticket) == 1
    assert _count(collector, Batch) == 2  # received today
    checks = {c["check"] for c in collector.get("/api/v1/hosts/sw1/checks")}
    assert checks == {"disk", "ntp"}
