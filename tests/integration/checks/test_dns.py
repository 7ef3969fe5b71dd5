"""The dns check against real dnsmasq resolvers on loopback ports.

127.0.0.x and fd00:5ca1::2 stand in for the host's addresses through the check's
``local_addresses``/``reverse_addresses`` options; the records are tests.support.dnsmasq.ZONE.
"""

# Fixtures are imported by name and then taken as test parameters of the same name.
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portacare.checks import CheckResult, Status, run_check
from portacare.checks.dns import DnsCheck
from tests.support.dnsmasq import (  # noqa: F401 - fixtures
    ZONE,
    Dnsmasq,
    dns_refusing,
    dns_resolver,
    dns_servfail,
    dns_upstream,
)
from tests.support.services import free_port

pytestmark = pytest.mark.integration

HOST_ADDRESSES = [ZONE.host_v4, ZONE.host_v6]


def run_dns(servers: list[Dnsmasq | str] | None, **options: Any) -> CheckResult:
    """Run the check through the runner as host.example.test owning HOST_ADDRESSES.

    ``servers`` become the ``resolvers`` option; None leaves it to ``resolv_conf``.
    """
    raw: dict[str, Any] = {
        "hostname": ZONE.host,
        "local_addresses": HOST_ADDRESSES,
        "reverse_addresses": HOST_ADDRESSES,
        "test_name": ZONE.external,
        "query_timeout": 1,
        **options,
    }
    if servers is not None:
        raw["resolvers"] = [s if isinstance(s, str) else s.address for s in servers]
    return run_check(DnsCheck.from_config(raw))


def dead_resolver() -> str:
    return f"127.0.0.1:{free_port()}"


def test_host_with_matching_records_and_working_resolver_is_ok(dns_resolver):
    result = run_dns([dns_resolver])

    assert result.status is Status.OK, result.summary
    assert result.summary == (
        f"resolver resolves {ZONE.external}; "
        f"{ZONE.host} resolves to {ZONE.host_v4}, {ZONE.host_v6}; 2 of 2 PTRs confirmed"
    )
    assert result.metrics["forward_addresses"] == 2
    assert result.metrics["reverse_confirmed"] == 2
    assert result.details["reverse"][ZONE.host_v6]["ptr"] == [ZONE.host]


def test_resolvers_from_a_resolv_conf_with_ports(tmp_path: Path, dns_resolver):
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text(f"search example.test\nnameserver {dns_resolver.address}\n")

    result = run_dns(None, resolv_conf=str(resolv_conf))

    assert result.status is Status.OK, result.summary
    assert list(result.details["resolvers"]) == [dns_resolver.address]


@pytest.mark.parametrize(
    ("hostname", "status", "summary"),
    [
        pytest.param(
            ZONE.missing,
            Status.CRITICAL,
            f"{ZONE.missing} does not resolve (NXDOMAIN)",
            id="nxdomain",
        ),
        pytest.param(
            ZONE.noaddr,
            Status.CRITICAL,
            f"{ZONE.noaddr} has no A or AAAA record",
            id="no-address-records",
        ),
        pytest.param(
            ZONE.elsewhere,
            Status.CRITICAL,
            f"{ZONE.elsewhere} resolves to {ZONE.elsewhere_v4}, none of them this host's",
            id="only-foreign-address",
        ),
        pytest.param(
            ZONE.multi,
            Status.WARNING,
            f"{ZONE.multi} resolves to {ZONE.foreign_v4}, not this host's "
            f"(besides its own {ZONE.host_v4})",
            id="one-foreign-address",
        ),
    ],
)
def test_forward_records_must_resolve_to_this_host(dns_resolver, hostname, status, summary):
    result = run_dns([dns_resolver], hostname=hostname, check_reverse=False)

    assert result.status is status, result.summary
    assert result.summary.startswith(summary), result.summary


@pytest.mark.parametrize(
    ("address", "summary"),
    [
        pytest.param(
            ZONE.mismatched_v4,
            f"PTR of {ZONE.mismatched_v4} is {ZONE.wrong} (this host is {ZONE.host}), but "
            f"{ZONE.wrong} resolves to {ZONE.wrong_v4}, not back to {ZONE.mismatched_v4}",
            id="ptr-name-points-elsewhere",
        ),
        pytest.param(
            ZONE.dangling_v4,
            f"PTR of {ZONE.dangling_v4} is {ZONE.ghost} (this host is {ZONE.host}), but "
            f"{ZONE.ghost} does not resolve, not back to {ZONE.dangling_v4}",
            id="ptr-name-does-not-exist",
        ),
        pytest.param(ZONE.no_ptr_v4, f"{ZONE.no_ptr_v4} has no PTR record", id="no-ptr"),
    ],
)
def test_reverse_records_must_lead_back(dns_resolver, address, summary):
    result = run_dns([dns_resolver], reverse_addresses=[ZONE.host_v4, address])

    assert result.status is Status.WARNING, result.summary
    assert result.summary.startswith(summary), result.summary
    assert result.metrics["reverse_confirmed"] == 1
    assert result.details["reverse"][address]["status"] == "WARNING"


def test_confirmed_ptr_naming_another_host_is_ok_unless_required(dns_resolver):
    relaxed = run_dns([dns_resolver], reverse_addresses=[ZONE.other_v4])
    strict = run_dns(
        [dns_resolver], reverse_addresses=[ZONE.other_v4], reverse_must_match_hostname=True
    )

    assert relaxed.status is Status.OK, relaxed.summary
    assert strict.status is Status.WARNING, strict.summary
    assert strict.summary.startswith(f"PTR of {ZONE.other_v4} is {ZONE.other}, not {ZONE.host}")


@pytest.mark.parametrize(
    ("hostname", "status"),
    [
        pytest.param(ZONE.loopback, Status.OK, id="127.0.0.1-is-on-lo"),
        pytest.param(ZONE.elsewhere, Status.CRITICAL, id="127.0.0.50-is-on-no-interface"),
    ],
)
def test_forward_against_the_real_interface_addresses(dns_resolver, hostname, status):
    result = run_dns([dns_resolver], hostname=hostname, local_addresses=None, check_reverse=False)

    assert result.status is status, result.summary
    assert "127.0.0.1" in result.details["forward"]["local"]


def test_loopback_addresses_are_left_out_of_reverse_by_default(dns_resolver):
    result = run_dns([dns_resolver], reverse_addresses=None)

    assert result.status is Status.OK, result.summary
    assert list(result.details["reverse"]) == [ZONE.host_v6]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param("refusing", "answered REFUSED for www.external.test", id="refused"),
        pytest.param("servfail", "answered SERVFAIL for www.external.test", id="servfail"),
        pytest.param("dead", "did not answer www.external.test within 1s", id="timeout"),
    ],
)
def test_one_failing_resolver_of_two_warns(dns_resolver, dns_refusing, dns_servfail, bad, reason):
    failing = {"refusing": dns_refusing.address, "servfail": dns_servfail.address}.get(
        bad
    ) or dead_resolver()

    result = run_dns([failing, dns_resolver])

    assert result.status is Status.WARNING, result.summary
    assert result.summary.startswith(f"1 of 2 resolvers failing: {failing} {reason}")
    # the working resolver still answers the host's own lookups
    assert f"{ZONE.host} resolves to {ZONE.host_v4}, {ZONE.host_v6}" in result.summary
    assert result.details["resolvers"][failing]["ok"] is False
    assert result.metrics["resolvers_ok"] == 1


def test_resolver_that_cannot_resolve_the_external_name_fails(dns_resolver):
    result = run_dns([dns_resolver], test_name="nothing.example.test")

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        f"resolver failing: {dns_resolver.address} says nothing.example.test does not exist "
        "(NXDOMAIN)"
    )


def test_all_resolvers_failing_is_critical(dns_refusing, dns_servfail):
    result = run_dns([dns_refusing, dns_servfail])

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        f"all 2 resolvers failing: {dns_refusing.address} answered REFUSED for "
        f"{ZONE.external}; {dns_servfail.address} answered SERVFAIL for {ZONE.external}"
    )
    assert f"{ZONE.host} cannot be resolved: no resolver answered A {ZONE.host}" in (result.summary)


def test_no_resolver_answering_skips_lookups(dns_resolver):
    dead = dead_resolver()

    result = run_dns([dead])

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary == (
        f"resolver failing: {dead} did not answer {ZONE.external} within 1s; "
        "forward and reverse lookups skipped: no resolver answers"
    )


def test_lookups_fail_when_resolver_checks_are_off(dns_refusing):
    result = run_dns([dns_refusing], check_resolvers=False)

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        f"{ZONE.host} cannot be resolved: no resolver answered A {ZONE.host}: REFUSED"
    )
    assert f"PTR of {ZONE.host_v4} cannot be resolved" in result.summary


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(None, "cannot read {path}: No such file or directory", id="missing"),
        pytest.param("search example.test\n", "{path} names no nameserver", id="empty"),
    ],
)
def test_no_resolver_to_ask_is_unknown(tmp_path: Path, content, reason):
    path = tmp_path / "resolv.conf"
    if content is not None:
        path.write_text(content)

    result = run_dns(None, resolv_conf=str(path))

    assert result.status is Status.UNKNOWN, result.summary
    assert result.summary == reason.format(path=path)
