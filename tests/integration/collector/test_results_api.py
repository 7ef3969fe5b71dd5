"""POST /api/v1/results exactly as the wire contract says, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select

from portacare.collector.history import count_history
from portacare.collector.models import Batch, CheckState, Ticket

from ...support.collector import T0, Collector, result


def _history(c: Collector) -> int:
    with c.sessions() as session:
        return count_history(session)


def _count(c: Collector, model: type) -> int:
    with c.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_is_accepted_and_stored(collector: Collector) -> None:
    response = collector.push("sw1", [result("disk", "OK"), result("ntp", "OK")])
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicate": False}
    assert _history(collector) == 2
    assert _count(collector, CheckState) == 2


def test_the_same_batch_id_again_stores_nothing_twice(collector: Collector) -> None:
    batch = uuid.uuid4().hex
    first = collector.push("sw1", [result("disk", "CRITICAL")], batch_id=batch)
    again = collector.push("sw1", [result("disk", "CRITICAL")], batch_id=batch)
    assert first.json() == {"accepted": 1, "duplicate": False}
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicate": True}
    assert _history(collector) == 1
    assert _count(collector, Ticket) == 1


def test_an_empty_batch_is_a_heartbeat(collector: Collector) -> None:
    response = collector.push("sw1", [])
    assert response.json() == {"accepted": 0, "duplicate": False}
    hosts = collector.get("/api/v1/hosts")
    assert hosts == [
        {
            "host": "sw1",
            "customer": None,
            "last_seen": "2026-11-26T12:00:00Z",
            "status": "OK",
            "silent": False,
            "dropped_results": {},
        }
    ]


def test_no_token_or_an_unknown_token_is_401(collector: Collector) -> None:
    body = {"host": "sw1", "batch_id": "b", "results": []}
    missing = collector.client.post("/api/v1/results", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = collector.client.post(
        "/api/v1/results", json=body, headers=collector.auth("pc_not-a-real-token")
    )
    assert unknown.status_code == 401
    basic = collector.client.post(
        "/api/v1/results", json=body, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert basic.status_code == 401


def test_a_token_for_another_host_is_403_and_stores_nothing(collector: Collector) -> None:
    token = collector.agent_token("sw1")
    body = {"host": "sw2", "batch_id": "b1", "results": [result("disk", "CRITICAL")]}
    response = collector.client.post("/api/v1/results", json=body, headers=collector.auth(token))
    assert response.status_code == 403
    assert "bound to host 'sw1'" in response.json()["detail"]
    assert _history(collector) == 0


def test_noc_tokens_cannot_push_and_agent_tokens_cannot_read(collector: Collector) -> None:
    body = {"host": "sw1", "batch_id": "b1", "results": []}
    pushed = collector.client.post(
        "/api/v1/results", json=body, headers=collector.auth(collector.noc_token())
    )
    assert pushed.status_code == 403
    read = collector.client.get(
        "/api/v1/hosts", headers=collector.auth(collector.agent_token("sw1"))
    )
    assert read.status_code == 403
    assert collector.client.get("/api/v1/tickets").status_code == 401


def test_a_body_over_the_limit_is_413_and_stores_nothing(collector: Collector) -> None:
    token = collector.agent_token("sw1")
    huge = [result("disk", "OK", "x" * 4000) for _ in range(1000)]
    body = json.dumps({"host": "sw1", "batch_id": "big", "results": huge * 2})
    assert len(body) > 5 * 1024 * 1024
    response = collector.client.post(
        "/api/v1/results",
        content=body,
        headers={**collector.auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert _count(collector, Batch) == 0


def test_malformed_bodies_are_422_naming_the_field(collector: Collector) -> None:
    token = collector.agent_token("sw1")
    cases = {
        "results.1.status": [result("disk", "OK"), result("disk", "FINE")],
        "results.0.observed_at": [{**result("disk", "OK"), "observed_at": "2026-11-26 12:00"}],
        "results.0.summary": [{k: v for k, v in result("disk", "OK").items() if k != "summary"}],
        "results.0.metrics.load": [{**result("disk", "OK"), "metrics": {"load": "high"}}],
    }
    for field, results in cases.items():
        body = {"host": "sw1", "batch_id": uuid.uuid4().hex, "results": results}
        response = collector.client.post(
            "/api/v1/results", json=body, headers=collector.auth(token)
        )
        assert response.status_code == 422, field
        assert field in [e["field"] for e in response.json()["detail"]], response.text
    no_batch = collector.client.post(
        "/api/v1/results", json={"host": "sw1", "results": []}, headers=collector.auth(token)
    )
    assert no_batch.status_code == 422
    assert no_batch.json()["detail"][0]["field"] == "batch_id"
    not_json = collector.client.post(
        "/api/v1/results", content=b"{not json", headers=collector.auth(token)
    )
    assert not_json.status_code == 422
    assert _history(collector) == 0
    assert _count(collector, Batch) == 0


def test_a_naive_timestamp_is_refused(collector: Collector) -> None:
    naive = {**result("disk", "OK"), "observed_at": "2026-11-26T12:00:00"}
    response = collector.push("sw1", [naive])
    assert response.status_code == 422
    assert "UTC offset" in response.json()["detail"][0]["message"]


def test_an_older_result_never_overwrites_a_newer_state(collector: Collector) -> None:
    from datetime import timedelta

    collector.push("sw1", [result("disk", "CRITICAL", at=T0 + timedelta(minutes=5))])
    collector.push("sw1", [result("disk", "OK", at=T0)])
    checks = collector.get("/api/v1/hosts/sw1/checks")
    assert [(c["check"], c["status"]) for c in checks] == [("disk", "CRITICAL")]
    history = collector.get("/api/v1/hosts/sw1/checks/disk/results")
    assert [h["status"] for h in history] == ["CRITICAL", "OK"]  # newest first


def test_history_since_and_limit(collector: Collector) -> None:
    from datetime import timedelta

    collector.push(
        "sw1",
        [
            result(
                "disk", "OK", f"run {i}", at=T0 + timedelta(minutes=i), metrics={"/ used_pct": i}
            )
            for i in range(5)
        ],
    )
    newest_two = collector.get("/api/v1/hosts/sw1/checks/disk/results", limit=2)
    assert [r["summary"] for r in newest_two] == ["run 4", "run 3"]
    assert newest_two[0]["metrics"] == {"/ used_pct": 4.0}
    since = collector.get("/api/v1/hosts/sw1/checks/disk/results", since="2026-11-26T12:03:00Z")
    assert [r["summary"] for r in since] == ["run 4", "run 3"]


def test_unknown_host_is_404(collector: Collector) -> None:
    response = collector.client.get(
        "/api/v1/hosts/nowhere/checks", headers=collector.auth(collector.noc_token())
    )
    assert response.status_code == 404


def test_a_checks_first_result_sets_its_latest_metrics(collector: Collector) -> None:
    from datetime import timedelta

    collector.push("sw1", [result("disk", "OK", at=T0, metrics={"/ used_pct": 41})])
    with collector.sessions() as session:
        assert session.scalars(select(CheckState.metrics)).one() == {"/ used_pct": 41.0}
    collector.push("sw1", [result("disk", "OK", at=T0 + timedelta(minutes=1))])
    with collector.sessions() as session:
        assert session.scalars(select(CheckState.metrics)).one() == {}


def test_a_metric_that_is_not_a_finite_number_is_422(collector: Collector) -> None:
    """JSON has no NaN or infinity; the agent never sends them; PostgreSQL cannot store them."""
    token = collector.agent_token("sw1")
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        disk = {**result("disk", "OK"), "metrics": {"load": "VALUE"}}
        body = {"host": "sw1", "batch_id": uuid.uuid4().hex, "results": [disk]}
        text = json.dumps(body).replace('"VALUE"', value)
        response = collector.client.post(
            "/api/v1/results", content=text.encode(), headers=collector.auth(token)
        )
        assert response.status_code == 422, (value, response.text)
        assert response.json()["detail"][0]["field"] == "results.0.metrics.load"
    assert _history(collector) == 0


def test_the_results_door_serves_only_posts_and_passes_the_rest_on(collector: Collector) -> None:
    # ResultsDoor answers POST on the path itself; anything else there is FastAPI's to answer
    assert collector.client.get("/api/v1/results").status_code == 405
    unexpected = collector.client.put("/api/v1/results", json={})
    assert unexpected.status_code == 405
    assert unexpected.headers["allow"] == "POST"
