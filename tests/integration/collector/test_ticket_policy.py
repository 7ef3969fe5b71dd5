"""Auto-resolve, reopen, silences, flapping and silent agents, with the notifications they cause."""

from __future__ import annotations

from datetime import timedelta

from ...support.collector import T0, Collector, outbox, result, sweep

HOST = "sw1.acme.example"


def _at(minutes: float) -> object:
    return T0 + timedelta(minutes=minutes)


def _push(
    c: Collector, minutes: float, status: str, check: str = "disk", interval: float = 60
) -> None:
    c.clock.now = T0 + timedelta(minutes=minutes)
    response = c.push(
        HOST, [result(check, status, f"{check} {status}", at=_at(minutes))], interval_s=interval
    )
    assert response.status_code == 202, response.text


def _tickets(c: Collector) -> list[dict]:
    return c.get("/api/v1/tickets", host=HOST)


def test_opening_tells_the_customer_and_the_on_duty_queue(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL")
    assert outbox(staffed) == [("opened", "noc@acme.example"), ("opened", "duty@vendor.example")]


def test_auto_resolve_needs_two_ok_results_and_ten_minutes(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL")
    _push(staffed, 1, "OK")
    _push(staffed, 2, "OK")  # two OK results, but only 1 minute OK
    assert _tickets(staffed)[0]["state"] == "open"
    _push(staffed, 11, "OK")  # OK since minute 1: ten minutes now
    [ticket] = _tickets(staffed)
    assert (ticket["state"], ticket["resolved_at"]) == ("resolved", "2026-11-26T12:11:00Z")
    timeline = staffed.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]
    assert timeline[-1]["kind"] == "resolved"
    assert timeline[-1]["message"].startswith("auto-resolved: disk OK for 10 min (3 consecutive")
    assert ("resolved", "noc@acme.example") in outbox(staffed)


def test_the_sweep_auto_resolves_when_time_alone_is_missing(staffed: Collector) -> None:
    # a check every 5 minutes: its second OK comes before the ten minutes are over
    _push(staffed, 0, "CRITICAL", interval=300)
    _push(staffed, 1, "OK", interval=300)
    _push(staffed, 6, "OK", interval=300)
    assert sweep(staffed, _at(8)).auto_resolved == 0
    assert sweep(staffed, _at(11)).auto_resolved == 1
    assert _tickets(staffed)[0]["state"] == "resolved"


def test_a_stale_ok_proves_nothing(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL")
    _push(staffed, 1, "OK")
    _push(staffed, 2, "OK")
    assert sweep(staffed, _at(60)).auto_resolved == 0  # disk silent for 58 minutes
    assert _tickets(staffed)[0]["state"] == "open"


def test_a_failure_within_the_reopen_window_reopens_the_same_ticket(staffed: Collector) -> None:
    _push(staffed, 0, "WARNING")
    _push(staffed, 1, "OK")
    _push(staffed, 11, "OK")
    [resolved] = _tickets(staffed)
    assert resolved["state"] == "resolved"
    _push(staffed, 60, "CRITICAL")
    [ticket] = _tickets(staffed)
    assert ticket["number"] == resolved["number"]
    assert ticket["state"] == "open"
    assert ticket["priority"] == 2  # raised on reopening: CRITICAL
    kinds = [e["kind"] for e in staffed.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]]
    assert kinds[-2:] == ["reopened", "priority_changed"]
    assert ("reopened", "noc@acme.example") in outbox(staffed)


def test_a_failure_after_the_reopen_window_opens_a_new_ticket(staffed: Collector) -> None:
    _push(staffed, 0, "WARNING")
    _push(staffed, 1, "OK")
    _push(staffed, 11, "OK")
    _push(staffed, 11 + 24 * 60 + 1, "WARNING")
    assert sorted(t["state"] for t in _tickets(staffed)) == ["open", "resolved"]


def _silence(c: Collector, minutes: float, **scope: str) -> dict:
    response = c.post(
        "/api/v1/silences",
        {
            **scope,
            "ends_at": f"2026-11-26T{12 + int(minutes) // 60:02d}:{int(minutes) % 60:02d}:00Z",
            "reason": "kernel upgrade",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_silence_holds_the_ticket_back_until_it_ends(staffed: Collector) -> None:
    silence = _silence(staffed, 30, host=HOST, check="disk")
    assert silence["created_by"] == "noc-alice"
    _push(staffed, 1, "CRITICAL", interval=600)  # an agent reporting every 10 minutes
    assert _tickets(staffed) == []
    assert outbox(staffed) == []
    history = staffed.get(f"/api/v1/hosts/{HOST}/checks/disk/results")
    assert [r["status"] for r in history] == ["CRITICAL"]  # results are still stored
    assert sweep(staffed, _at(20)).held_opened == 0
    _push(staffed, 29, "CRITICAL", interval=600)  # still failing, still silenced
    assert _tickets(staffed) == []
    report = sweep(staffed, _at(31))
    assert report.held_opened == 1
    [ticket] = _tickets(staffed)
    assert ticket["opened_at"] == "2026-11-26T12:31:00Z"
    assert ("opened", "duty@vendor.example") in outbox(staffed)


def test_a_failure_that_recovers_inside_the_silence_never_opens(staffed: Collector) -> None:
    _silence(staffed, 30, customer="acme")
    _push(staffed, 1, "CRITICAL", interval=600)
    _push(staffed, 5, "OK", interval=600)
    sweep(staffed, _at(31))
    assert _tickets(staffed) == []


def test_silences_never_block_resolution_and_say_so(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL")
    [opened] = _tickets(staffed)
    silence = _silence(staffed, 60, host=HOST)
    _push(staffed, 2, "OK")
    _push(staffed, 12, "OK")
    [ticket] = _tickets(staffed)
    assert ticket["state"] == "resolved"
    last = staffed.get(f"/api/v1/tickets/{opened['number']}")["timeline"][-1]
    assert f"recovered during silence #{silence['id']} (kernel upgrade)" in last["message"]
    assert ("resolved", "noc@acme.example") in outbox(staffed)


def test_a_silence_holds_escalations_until_it_ends(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL", check="security")  # P1: TSM due at once
    _silence(staffed, 30, host=HOST, check="security")
    assert sweep(staffed, _at(5)).escalations == 0
    assert sweep(staffed, _at(31)).escalations == 1  # TSM, late but once


def test_silences_are_listed_and_ended(staffed: Collector) -> None:
    silence = _silence(staffed, 30, check="ntp")
    assert [s["id"] for s in staffed.get("/api/v1/silences")] == [silence["id"]]
    ended = staffed.client.delete(
        f"/api/v1/silences/{silence['id']}", headers=staffed.auth(staffed.noc_token())
    )
    assert ended.status_code == 200
    assert staffed.get("/api/v1/silences") == []
    unscoped = staffed.post("/api/v1/silences", {"ends_at": "2026-11-27T00:00:00Z", "reason": "x"})
    assert unscoped.status_code == 422


def test_a_flapping_check_is_marked_and_its_notifications_held(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL", check="security")
    for minute in range(1, 8):
        _push(staffed, minute, "OK" if minute % 2 else "CRITICAL", check="security")
    [ticket] = _tickets(staffed)
    assert ticket["flapping"] is True
    kinds = [e["kind"] for e in staffed.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]]
    assert "flapping" in kinds
    assert sweep(staffed, _at(8)).escalations == 0  # P1's TSM step waits for it to settle
    for minute in range(8, 40):
        _push(staffed, minute, "CRITICAL", check="security")
    [ticket] = _tickets(staffed)
    assert ticket["flapping"] is False
    assert sweep(staffed, _at(40)).escalations == 1
    assert [k for k, _ in outbox(staffed)].count("flapping") == 1
    assert [k for k, _ in outbox(staffed)].count("settled") == 1


def test_a_silent_agent_gets_a_ticket_resolved_when_it_reports_again(staffed: Collector) -> None:
    _push(staffed, 0, "OK")  # interval 60 s: silent after max(3 min, 5 min) = 5 min
    assert sweep(staffed, _at(5)).silent_opened == 0
    assert sweep(staffed, _at(6)).silent_opened == 1
    assert sweep(staffed, _at(7)).silent_opened == 0  # one ticket, not one per sweep
    [ticket] = _tickets(staffed)
    assert (ticket["check"], ticket["priority"], ticket["state"]) == ("agent_silent", 2, "open")
    staffed.clock.now = _at(7)
    assert staffed.get("/api/v1/hosts")[0]["silent"] is True
    staffed.clock.now = _at(9)
    staffed.push(HOST, [])  # a heartbeat
    [ticket] = _tickets(staffed)
    assert ticket["state"] == "resolved"
    timeline = staffed.get(f"/api/v1/tickets/{ticket['number']}")["timeline"]
    assert timeline[-1]["message"] == "agent reporting again after 9 min of silence"


def test_a_host_silence_keeps_a_quiet_host_from_paging(staffed: Collector) -> None:
    _push(staffed, 0, "OK")
    _silence(staffed, 120, host=HOST)
    assert sweep(staffed, _at(30)).silent_opened == 0


def test_a_stale_check_shows_unknown(staffed: Collector) -> None:
    _push(staffed, 0, "OK", check="disk")
    staffed.clock.now = _at(10)
    staffed.push(HOST, [result("ntp", "OK", at=_at(10))])
    checks = {c["check"]: c for c in staffed.get(f"/api/v1/hosts/{HOST}/checks")}
    assert checks["ntp"]["status"] == "OK"
    assert (checks["disk"]["status"], checks["disk"]["stale"]) == ("UNKNOWN", True)
    assert checks["disk"]["summary"].startswith("stale: no result since 2026-11-26 12:00Z")
    assert staffed.get("/api/v1/hosts")[0]["status"] == "UNKNOWN"


def test_a_ticket_resolved_at_30_minutes_sends_no_escalation(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL", interval=86400)  # disk CRITICAL: P2, TSM at +1 h
    [ticket] = _tickets(staffed)
    staffed.clock.now = _at(30)
    resolved = staffed.post(f"/api/v1/tickets/{ticket['number']}/resolve", {"message": "fixed"})
    assert resolved.status_code == 200
    for minutes in (61, 4 * 60 + 1, 8 * 60 + 1):
        assert sweep(staffed, _at(minutes)).escalations == 0
    assert [k for k, _ in outbox(staffed)].count("escalation") == 0


def test_overdue_first_response_and_update_are_told_once_each(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL", interval=86400)  # P2: respond within 2 h, update every 2 h
    [ticket] = _tickets(staffed)
    assert sweep(staffed, _at(119)).overdue_notices == 0
    assert sweep(staffed, _at(121)).overdue_notices == 1
    assert sweep(staffed, _at(150)).overdue_notices == 0
    staffed.clock.now = _at(150)
    staffed.post(f"/api/v1/tickets/{ticket['number']}/respond", {"message": "looking"})
    assert sweep(staffed, _at(269)).overdue_notices == 0
    assert sweep(staffed, _at(271)).overdue_notices == 1  # update due at 150 + 120 minutes
    assert sweep(staffed, _at(300)).overdue_notices == 0
    kinds = [k for k, r in outbox(staffed) if r == "duty@vendor.example"]
    assert kinds.count("response_overdue") == 1
    assert kinds.count("update_overdue") == 1


def test_the_host_list_follows_each_check_going_stale(staffed: Collector) -> None:
    _push(staffed, 0, "CRITICAL", check="disk", interval=60)
    staffed.push(HOST, [result("ntp", "OK", at=_at(0))], check_intervals={"ntp": 3600})
    assert staffed.get("/api/v1/hosts")[0]["status"] == "CRITICAL"
    staffed.clock.now = _at(4)  # disk (every minute) went stale; ntp (hourly) did not
    staffed.push(HOST, [])
    assert staffed.get("/api/v1/hosts")[0]["status"] == "UNKNOWN"
    _push(staffed, 5, "OK", check="disk")
    assert staffed.get("/api/v1/hosts")[0]["status"] == "OK"
