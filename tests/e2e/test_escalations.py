"""Escalations end to end: a real collector process, `sweep --at`, a real SMTP server and webhook.

For a P1 ticket, sweeps at +0, +59 min, +61 min and +4 h 1 min deliver exactly
the Technical Support Manager, then the Customer Relations Manager, then the
CTO, once each; a ticket resolved before its first step sends no escalation.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from portacare.checks import format_time, parse_time, utc_now

from ..support.processes import CollectorProcess
from ..support.receivers import SmtpSink, WebhookSink

pytestmark = pytest.mark.e2e


def _config(path: Path, smtp: SmtpSink, hooks: WebhookSink) -> None:
    path.write_text(
        f"""
[collector]
sweep_in_serve = false

[contacts]
on_duty = ["duty@vendor.example"]
technical_support_manager = ["tsm@vendor.example", "{hooks.url("/hooks/tsm")}"]
customer_relations_manager = ["crm@vendor.example", "{hooks.url("/hooks/crm")}"]
cto = ["cto@vendor.example", "{hooks.url("/hooks/cto")}"]

[customers.acme]
hosts = ["*.acme.example"]
contacts = ["noc@acme.example"]

[smtp]
host = "127.0.0.1"
port = {smtp.port}
sender = "portacare@vendor.example"
"""
    )


def _push(collector: CollectorProcess, token: str, host: str, check: str) -> None:
    body = {
        "host": host,
        "batch_id": uuid.uuid4().hex,
        "results": [
            {
                "check": check,
                "status": "CRITICAL",
                "summary": f"{check} failing",
                "observed_at": format_time(utc_now()),
            }
        ],
    }
    collector.post("/api/v1/results", token, body)


def test_p1_escalates_to_tsm_then_crm_then_cto_once_each(
    tmp_path: Path,
    smtp_sink: SmtpSink,
    webhook_sink: WebhookSink,
) -> None:
    config = tmp_path / "collector.toml"
    _config(config, smtp_sink, webhook_sink)
    collector = CollectorProcess(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", config=config)
    collector.cli("migrate")
    agent_one = collector.cli("token", "create", "--host", "one.acme.example")
    agent_two = collector.cli("token", "create", "--host", "two.acme.example")
    noc = collector.cli("token", "create", "--role", "noc", "--name", "duty-engineer")
    collector.start()
    try:
        _push(collector, agent_one, "one.acme.example", "security")  # CRITICAL: P1
        _push(collector, agent_two, "two.acme.example", "disk")  # CRITICAL: P2
        [p1] = collector.get("/api/v1/tickets", noc, host="one.acme.example")
        [p2] = collector.get("/api/v1/tickets", noc, host="two.acme.example")
        assert (p1["priority"], p2["priority"]) == (1, 2)
        collector.post(f"/api/v1/tickets/{p2['number']}/resolve", noc, {"message": "fixed"})
    finally:
        collector.stop()
    opened = parse_time(p1["opened_at"])

    watched = {p1["number"], p2["number"]}  # (silent-agent tickets of the quiet hosts aside)

    def sweep_at(delta: timedelta) -> list[str]:
        before = len(smtp_sink.accepted)
        output = collector.cli("sweep", "--at", format_time(opened + delta))
        assert "failed: 0" in output, output
        return [
            f"#{_number(subject)} {rcpt}"
            for rcpt, subject in smtp_sink.accepted[before:]
            if "escalation to" in subject and _number(subject) in watched
        ]

    n = p1["number"]
    assert sweep_at(timedelta(0)) == [f"#{n} tsm@vendor.example"]
    assert sweep_at(timedelta(minutes=59)) == []
    assert sweep_at(timedelta(minutes=61)) == [f"#{n} crm@vendor.example"]
    assert sweep_at(timedelta(hours=4, minutes=1)) == [f"#{n} cto@vendor.example"]
    assert sweep_at(timedelta(hours=4, minutes=1)) == []  # the same moment twice: nothing new
    assert sweep_at(timedelta(hours=9)) == []  # the P2 ticket was resolved: none of its steps

    hooks = [
        path
        for path, payload in webhook_sink.received
        if payload["event"] == "escalation" and payload["ticket"]["number"] == n
    ]
    assert hooks == ["/hooks/tsm", "/hooks/crm", "/hooks/cto"]
    opened_mail = [s for r, s in smtp_sink.accepted if r == "noc@acme.example"]
    assert any(f"#{p1['number']}" in s for s in opened_mail)  # the customer got the number

    collector.start()
    try:
        ticket = collector.get(f"/api/v1/tickets/{p1['number']}", noc)
    finally:
        collector.stop()
    notified = {e["role"]: e["notified_at"] for e in ticket["escalations"]}
    assert notified == {
        "technical_support_manager": format_time(opened),
        "customer_relations_manager": format_time(opened + timedelta(minutes=61)),
        "cto": format_time(opened + timedelta(hours=4, minutes=1)),
    }


def _number(subject: str) -> int:
    """The request number of a "[PortaCare #N] ..." subject."""
    return int(subject.split("#", 1)[1].split("]", 1)[0])
