"""A ticket's life through the API: respond, update, priority, resolve, close, reopen."""

from __future__ import annotations

from typing import Any

import pytest

from ...support.collector import Collector, result

HOST = "sw1.acme.example"


def _open(c: Collector, check: str = "disk", status: str = "CRITICAL") -> int:
    c.push(HOST, [result(check, status, "/var 97%")])
    [ticket] = c.get("/api/v1/tickets", host=HOST)
    return int(ticket["number"])


def _act(c: Collector, number: int, action: str, **body: Any) -> Any:
    return c.post(f"/api/v1/tickets/{number}/{action}", {"message": f"{action} it", **body})


def test_respond_update_resolve_close_with_a_timeline(staffed: Collector) -> None:
    number = _open(staffed)  # P2 opened Thursday 12:00
    staffed.clock.advance(minutes=30)
    responded = _act(staffed, number, "respond")
    assert responded.status_code == 200, responded.text
    ticket = responded.json()
    assert ticket["state"] == "responded"
    assert ticket["first_response_at"] == "2026-11-26T12:30:00Z"
    assert ticket["next_update_due"] == "2026-11-26T14:30:00Z"  # P2: every two hours
    staffed.clock.advance(hours=1)
    updated = _act(staffed, number, "update").json()
    assert updated["next_update_due"] == "2026-11-26T15:30:00Z"
    resolved = _act(staffed, number, "resolve").json()
    assert (resolved["state"], resolved["resolved_at"]) == ("resolved", "2026-11-26T13:30:00Z")
    assert resolved["next_update_due"] is None
    closed = _act(staffed, number, "close").json()
    assert closed["state"] == "closed"
    timeline = [(e["kind"], e["actor"], e["message"]) for e in closed["timeline"]]
    assert timeline[0][0] == "opened"
    assert timeline[1:] == [
        ("responded", "noc-alice", "respond it"),
        ("updated", "noc-alice", "update it"),
        ("resolved", "noc-alice", "resolve it"),
        ("closed", "noc-alice", "close it"),
    ]


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        pytest.param([], "update", id="update-before-response"),
        pytest.param([], "close", id="close-while-open"),
        pytest.param([], "reopen", id="reopen-while-open"),
        pytest.param(["respond"], "respond", id="respond-twice"),
        pytest.param(["resolve", "close"], "reopen", id="reopen-closed"),
        pytest.param(["resolve"], "resolve", id="resolve-twice"),
    ],
)
def test_actions_the_state_forbids_are_409(
    staffed: Collector, steps: list[str], action: str
) -> None:
    number = _open(staffed)
    for step in steps:
        assert _act(staffed, number, step).status_code == 200
    before = staffed.get(f"/api/v1/tickets/{number}")
    response = _act(staffed, number, action)
    assert response.status_code == 409
    assert f"ticket {number}" in response.json()["detail"]
    assert staffed.get(f"/api/v1/tickets/{number}") == before  # nothing changed


def test_raising_and_lowering_priority_recomputes_due_times(staffed: Collector) -> None:
    number = _open(staffed, "disk", "WARNING")  # P3 Thursday 12:00: due Friday 12:00
    ticket = staffed.get(f"/api/v1/tickets/{number}")
    assert (ticket["priority"], ticket["first_response_due"]) == (3, "2026-11-27T12:00:00Z")
    staffed.clock.advance(hours=2)
    raised = _act(staffed, number, "priority", priority=1).json()
    assert (raised["priority"], raised["rt_priority"]) == (1, 80)
    # P1 targets and ladder from the original logging time
    assert raised["first_response_due"] == "2026-11-26T13:00:00Z"
    assert [(e["role"], e["due_at"]) for e in raised["escalations"]] == [
        ("technical_support_manager", "2026-11-26T12:00:00Z"),
        ("customer_relations_manager", "2026-11-26T13:00:00Z"),
        ("cto", "2026-11-26T16:00:00Z"),
    ]
    lowered = _act(staffed, number, "priority", priority=4).json()
    assert lowered["priority"] == 4
    assert lowered["first_response_due"] == "2026-11-30T12:00:00Z"  # 2 business days
    assert [(e["role"], e["due_at"]) for e in lowered["escalations"]] == [
        ("technical_support_manager", "2026-11-30T12:00:00Z"),
    ]
    kinds = [e["kind"] for e in lowered["timeline"]]
    assert kinds.count("priority_changed") == 2
    same = _act(staffed, number, "priority", priority=4)
    assert same.status_code == 409


def test_a_notified_escalation_is_kept_when_the_priority_changes(staffed: Collector) -> None:
    from ...support.collector import sweep

    number = _open(staffed, "security", "CRITICAL")  # P1: TSM at once
    sweep(staffed)
    lowered = _act(staffed, number, "priority", priority=3).json()
    roles = {e["role"]: e["notified_at"] for e in lowered["escalations"]}
    assert roles["technical_support_manager"] == "2026-11-26T12:00:00Z"
    assert roles["customer_relations_manager"] is None  # P3 ladder: CRM at +96 h


def test_bad_bodies_are_422_and_unknown_tickets_404(staffed: Collector) -> None:
    number = _open(staffed)
    assert staffed.post(f"/api/v1/tickets/{number}/respond", {}).status_code == 422
    assert (
        staffed.post(
            f"/api/v1/tickets/{number}/priority", {"message": "x", "priority": 5}
        ).status_code
        == 422
    )
    assert staffed.post("/api/v1/tickets/999/respond", {"message": "x"}).status_code == 404
    agent = staffed.client.post(
        f"/api/v1/tickets/{number}/respond",
        json={"message": "x"},
        headers=staffed.auth(staffed.agent_token(HOST)),
    )
    assert agent.status_code == 403


def test_customers_are_readable(staffed: Collector) -> None:
    [acme] = staffed.get("/api/v1/customers")
    assert acme["name"] == "acme"
    assert acme["plan"] == "standard"
    assert acme["calendar"]["hours"] == "09:00-17:00"
    staffed.push(HOST, [])
    assert staffed.get("/api/v1/hosts")[0]["customer"] == "acme"
