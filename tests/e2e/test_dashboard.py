"""The NOC dashboard in a real browser against a real collector process.

The collector runs as ``portacare-collector serve``; results are pushed with
agent tokens over HTTP, so every ticket, host and check on screen came through
the wire contract. Headless Chromium signs in with a NOC token and the tests
assert what a person on the desk relies on: what is shown, in which order, and
that the buttons really act.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from ..support.browser import (  # noqa: F401  (fixtures: browser, page, page_problems)
    PageProblems,
    browser_fixture,
    expect,
    page_fixture,
    page_problems_fixture,
)
from ..support.processes import CollectorProcess

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
SCREENSHOT = Path("/tmp/dashboard.png")


@dataclass
class Desk:
    """A running collector with a NOC token and the tickets pushed into it."""

    collector: CollectorProcess
    noc: str
    agent_tokens: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)  # host -> ticket number

    @property
    def url(self) -> str:
        return self.collector.url

    def push(self, host: str, *results: dict[str, Any], interval_s: int = 60) -> None:
        body: dict[str, Any] = {
            "host": host,
            "batch_id": uuid.uuid4().hex,
            "agent": {"version": "e2e", "interval_s": interval_s},
            "results": list(results),
        }
        response = requests.post(
            f"{self.url}/api/v1/results",
            json=body,
            headers={"Authorization": f"Bearer {self.agent_tokens[host]}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text

    def ticket(self, number: int) -> Any:
        return self.collector.get(f"/api/v1/tickets/{number}", self.noc)


def _result(check: str, status: str, summary: str, ago_s: float = 0) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(seconds=ago_s)
    return {
        "check": check,
        "status": status,
        "summary": summary,
        "observed_at": at.isoformat().replace("+00:00", "Z"),
    }


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One collector for the module: a P1, three P3s, a silent host, a stale check."""
    workdir = tmp_path_factory.mktemp("dashboard")
    collector = CollectorProcess(workdir, f"sqlite:///{workdir / 'collector.db'}")
    collector.cli("migrate")
    desk = Desk(collector, collector.cli("token", "create", "--role", "noc", "--name", "e2e-noc"))
    hosts = ["gw1", "web1", "db1", "mail1", "cache1", "edge1", "nas1"]
    for name in hosts:
        host = f"{name}.acme.example"
        desk.agent_tokens[host] = collector.cli(
            "token", "create", "--host", host, "--customer", "acme"
        )
    collector.start()
    try:
        desk.push(
            "gw1.acme.example",
            _result("security", "CRITICAL", f"{XSS} 41 failed root logins from 203.0.113.9"),
        )
        desk.push("web1.acme.example", _result("disk", "WARNING", "/var 91% used"))
        desk.push("db1.acme.example", _result("disk", "WARNING", "/srv 88% used"))
        desk.push("mail1.acme.example", _result("dns", "WARNING", "mx lookup slow: 2.1 s"))
        # the agent runs its checks every second: 10 s without a result makes the check stale
        desk.push(
            "cache1.acme.example", _result("ntp", "OK", "offset 2 ms", ago_s=10), interval_s=1
        )
        # edge1 has a token but never reported: a silent host
        collector.cli("sweep")  # pages the P1's first escalation step (due at once)
        for ticket in collector.get("/api/v1/tickets", desk.noc):
            desk.tickets[ticket["host"].split(".")[0]] = ticket["number"]
        assert {"gw1", "web1", "db1", "mail1"} <= desk.tickets.keys()
        yield desk
    finally:
        collector.stop()


def sign_in(page: Page, desk: Desk, token: str | None = None) -> None:
    page.goto(f"{desk.url}/")
    page.get_by_label("NOC token").fill(token or desk.noc)
    page.get_by_role("button", name="Sign in").click()
    if token is None:
        expect(page.locator("#board")).to_be_visible()
        expect(page.locator("#ticket-rows tr").first).to_be_visible()


def ticket_row(page: Page, number: int) -> Locator:
    return page.locator(f'#ticket-rows tr[data-ticket="{number}"]')


def open_ticket(page: Page, number: int) -> None:
    """Open a ticket the way a keyboard user does: focus its number, press Enter."""
    page.get_by_role("button", name=f"Open ticket {number}", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_contain_text(f"Ticket #{number}")


def test_the_page_and_its_assets_carry_a_strict_content_security_policy(desk: Desk) -> None:
    answer = requests.get(f"{desk.url}/", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    script = requests.get(f"{desk.url}/static/dashboard.js", timeout=5)
    assert script.status_code == 200 and "textContent" in script.text
    assert requests.get(f"{desk.url}/static/..%2fdashboard.py", timeout=5).status_code == 404
    assert requests.get(f"{desk.url}/static/app.py", timeout=5).status_code == 404


def test_a_wrong_token_shows_the_collectors_reason_on_the_sign_in_form(
    page: Page, desk: Desk
) -> None:
    sign_in(page, desk, token="not-a-token")
    expect(page.locator("#sign-in-error")).to_contain_text("unknown or revoked token")
    expect(page.locator("#board")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0

    # an agent's token is a real token, but not one that may read
    sign_in(page, desk, token=desk.agent_tokens["web1.acme.example"])
    expect(page.locator("#sign-in-error")).to_contain_text("reading needs a noc or admin token")
    expect(page.locator("#board")).to_be_hidden()


def test_the_queue_shows_priority_and_host_with_a_p1_above_a_p3(page: Page, desk: Desk) -> None:
    sign_in(page, desk)
    p1 = ticket_row(page, desk.tickets["gw1"])
    p3 = ticket_row(page, desk.tickets["web1"])
    expect(p1).to_contain_text("P1 RT 80")
    expect(p1).to_contain_text("gw1.acme.example")
    expect(p1).to_contain_text("security")
    expect(p1).to_contain_text("open")
    expect(p1.locator(".escalations")).to_contain_text("✓ TSM notified")
    expect(p1.locator(".countdown").first).to_have_text(re.compile(r"^in \d+m \d\ds$"))
    expect(p3).to_contain_text("P3 RT 40")
    expect(p3).to_contain_text("web1.acme.example")
    numbers = page.locator("#ticket-rows tr").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.ticket))"
    )
    assert numbers.index(desk.tickets["gw1"]) < numbers.index(desk.tickets["web1"]), numbers

    # the token stays out of every URL, and a reload keeps the tab signed in
    assert desk.noc not in page.url
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    expect(p1).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_markup_in_a_result_summary_is_shown_as_text(
    page: Page, page_problems: PageProblems, desk: Desk
) -> None:
    sign_in(page, desk)
    number = desk.tickets["gw1"]
    expect(ticket_row(page, number)).to_contain_text(XSS)
    open_ticket(page, number)
    expect(page.locator("#detail-summary")).to_contain_text(XSS)
    host_row = page.locator('#host-rows tr[data-host="gw1.acme.example"]')
    host_row.get_by_role("button", name="Show checks").click()
    expect(page.locator('#host-rows tr[data-check="security"]')).to_contain_text(XSS)
    assert page.locator("img").count() == 0
    assert page_problems.dialogs == [] and page_problems.errors == []


def test_responding_through_the_button_changes_the_state_and_adds_to_the_timeline(
    page: Page, page_problems: PageProblems, desk: Desk
) -> None:
    sign_in(page, desk)
    number = desk.tickets["web1"]
    open_ticket(page, number)
    respond = page.locator('#action-form [data-action="respond"]')
    expect(page.locator('#action-form [data-action="update"]')).to_be_disabled()

    respond.click()  # without a message: refused before anything is sent
    expect(page.locator("#action-error")).to_contain_text("Write a message first")
    assert desk.ticket(number)["state"] == "open"

    page.get_by_label("Message for the timeline").fill("Called acme; rotating /var/log now")
    respond.click()
    expect(page.locator("#detail-facts")).to_contain_text("responded")
    newest = page.locator("#timeline li").first
    expect(newest).to_contain_text("responded")
    expect(newest).to_contain_text("e2e-noc")
    expect(newest).to_contain_text("Called acme; rotating /var/log now")
    expect(ticket_row(page, number)).to_contain_text("responded")
    expect(ticket_row(page, number)).to_contain_text("Next update")
    assert desk.ticket(number)["state"] == "responded"
    expect(page.locator('#action-form [data-action="update"]')).to_be_enabled()

    page.locator('#host-rows tr[data-host="web1.acme.example"]').get_by_role(
        "button", name="Show checks"
    ).click()
    expect(page.locator('#host-rows tr[data-check="disk"]')).to_be_visible()
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page_problems.errors == []


def test_an_action_the_state_no_longer_allows_shows_the_409(page: Page, desk: Desk) -> None:
    sign_in(page, desk)
    number = desk.tickets["db1"]
    open_ticket(page, number)
    # a colleague responds first, behind this page's back
    desk.collector.post(f"/api/v1/tickets/{number}/respond", desk.noc, {"message": "on it"})
    page.get_by_label("Message for the timeline").fill("Looking into /srv")
    page.locator('#action-form [data-action="respond"]').click()
    error = page.locator("#action-error")
    expect(error).to_contain_text("409")
    expect(error).to_contain_text(f"cannot respond to ticket {number}: it is responded")
    expect(page.locator("#detail-facts")).to_contain_text("responded")  # shown as it is now


def test_refresh_now_brings_a_new_ticket_without_reloading_the_page(page: Page, desk: Desk) -> None:
    sign_in(page, desk)
    expect(page.locator("#ticket-rows")).not_to_contain_text("nas1.acme.example")
    desk.push("nas1.acme.example", _result("backups", "CRITICAL", "last backup 3 days old"))
    page.get_by_role("button", name="Refresh now").click()
    row = page.locator("#ticket-rows tr", has_text="nas1.acme.example")
    expect(row).to_contain_text("last backup 3 days old")
    expect(row).to_contain_text("backups")


def test_hosts_flag_a_silent_host_and_a_stale_check(page: Page, desk: Desk) -> None:
    sign_in(page, desk)
    silent = page.locator('#host-rows tr[data-host="edge1.acme.example"]')
    expect(silent).to_contain_text("SILENT")
    expect(page.locator('#host-rows tr[data-host="web1.acme.example"]')).not_to_contain_text(
        "SILENT"
    )
    cache = page.locator('#host-rows tr[data-host="cache1.acme.example"]')
    expect(cache).to_contain_text("UNKNOWN")
    cache.get_by_role("button", name="Show checks").click()
    expect(cache.get_by_role("button", name="Hide checks")).to_have_attribute(
        "aria-expanded", "true"
    )
    ntp = page.locator('#host-rows tr[data-check="ntp"]')
    expect(ntp).to_contain_text("UNKNOWN (stale)")
    expect(ntp).to_contain_text("offset 2 ms")


def test_a_silence_is_added_through_the_form_and_ended_with_its_button(
    page: Page, desk: Desk
) -> None:
    sign_in(page, desk)
    expect(page.locator("#silences-empty")).to_be_visible()
    page.get_by_label("Reason").fill("")
    page.get_by_role("button", name="Add silence").click()
    expect(page.locator("#silence-error")).to_contain_text("Name a host")

    page.get_by_label("Host", exact=True).fill("mail1.acme.example")
    page.get_by_label("Check", exact=True).fill("dns")
    page.get_by_label("Duration").select_option("120")
    page.get_by_label("Reason").fill("resolver migration until 16:00")
    page.get_by_role("button", name="Add silence").click()
    row = page.locator("#silence-rows tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("host mail1.acme.example, check dns")
    expect(row).to_contain_text("resolver migration until 16:00")
    expect(row).to_contain_text("by e2e-noc")
    [silence] = desk.collector.get("/api/v1/silences", desk.noc)
    assert (silence["host"], silence["check"]) == ("mail1.acme.example", "dns")

    row.get_by_role("button", name=re.compile("^End silence")).click()
    expect(row).to_have_count(0)
    expect(page.locator("#silences-empty")).to_be_visible()
    assert desk.collector.get("/api/v1/silences", desk.noc) == []
