"""Delivering the outbox to a real SMTP server and a real webhook receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portacare.checks import utc_now
from portacare.collector.delivery import deliver_due

from ...support.collector import Collector, build_collector, result, sweep
from ...support.receivers import SmtpSink, WebhookSink

HOST = "sw1.acme.example"


@pytest.fixture
def wired(database_url: str, smtp_sink: SmtpSink, webhook_sink: WebhookSink):
    contacts = {
        "on_duty": ["duty@vendor.example", webhook_sink.url("/hooks/noc")],
        "technical_support_manager": ["tsm@vendor.example"],
        "customer_relations_manager": ["crm@vendor.example"],
        "cto": ["cto@vendor.example"],
    }
    customers = {"acme": {"hosts": ["*.acme.example"], "contacts": ["noc@acme.example"]}}
    yield from build_collector(
        database_url,
        contacts=contacts,
        customers=customers,
        smtp={"host": "127.0.0.1", "port": smtp_sink.port, "sender": "portacare@vendor.example"},
        retry_base=5,
    )


def _deliver(c: Collector, after: float = 0) -> tuple[int, int]:
    report = deliver_due(c.sessions, c.settings, clock=lambda: utc_now() + timedelta(seconds=after))
    return report.sent, report.failed


def test_opening_reaches_the_customer_by_mail_and_the_noc_by_webhook(
    wired: Collector,
    smtp_sink: SmtpSink,
    webhook_sink: WebhookSink,
) -> None:
    wired.push(HOST, [result("disk", "CRITICAL", "/var 97% used")])
    assert _deliver(wired) == (3, 0)
    assert _deliver(wired) == (0, 0)  # nothing twice
    recipients = sorted(r for r, _ in smtp_sink.accepted)
    assert recipients == ["duty@vendor.example", "noc@acme.example"]
    subject = smtp_sink.accepted[0][1]
    assert subject == "[PortaCare #1] P2 sw1.acme.example disk: CRITICAL: /var 97% used"
    [(path, payload)] = webhook_sink.received
    assert path == "/hooks/noc"
    assert payload["event"] == "opened"
    assert payload["ticket"]["number"] == 1
    assert payload["ticket"]["rt_priority"] == 60
    assert "CRITICAL: /var 97% used" in payload["text"]


def test_a_failing_smtp_server_delays_delivery_and_loses_nothing(
    wired: Collector,
    smtp_sink: SmtpSink,
    webhook_sink: WebhookSink,
) -> None:
    smtp_sink.refuse_next = 2
    webhook_sink.refuse_next = 1
    wired.push(HOST, [result("security", "CRITICAL", "root login from 203.0.113.9")])
    sweep(wired)  # P1: the Technical Support Manager at once
    # four rows: "opened" to the customer and on-duty by mail and on-duty by webhook,
    # then the escalation mail; the server refuses the first two mails, the hook its first post
    assert _deliver(wired) == (1, 3)
    assert _deliver(wired) == (0, 0)  # not due again before the backoff (5 s) is over
    assert _deliver(wired, after=6) == (3, 0)
    assert _deliver(wired, after=60) == (0, 0)  # delivered once, never again
    mails = sorted(r for r, _ in smtp_sink.accepted)
    assert mails == ["duty@vendor.example", "noc@acme.example", "tsm@vendor.example"]
    assert len(webhook_sink.received) == 1
    assert smtp_sink.refused == 2 and webhook_sink.refused == 1
