"""The dns check's parsing and decisions, by tables of cases (no services)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from portacare.checks import Status
from portacare.checks.dns import (
    DnsCheck,
    DnsOptions,
    DnsResolver,
    ForwardReading,
    Report,
    ResolverReading,
    ReverseReading,
    interface_addresses,
    judge_forward,
    judge_resolvers,
    judge_reverse,
    read_resolv_conf,
    reverse_candidates,
    split_local,
)
from portacare.checks.options import OptionsError, parse_options

ip = ipaddress.ip_address
LOCAL = {ip("192.0.2.2"), ip("2001:db8::2"), ip("127.0.0.1")}
HOST = "sw1.example.net"


@pytest.mark.parametrize(
    ("text", "address", "port", "shown"),
    [
        pytest.param("10.0.0.53", "10.0.0.53", 53, "10.0.0.53", id="ipv4"),
        pytest.param("10.0.0.53:5353", "10.0.0.53", 5353, "10.0.0.53:5353", id="ipv4-port"),
        pytest.param("2001:db8::53", "2001:db8::53", 53, "2001:db8::53", id="ipv6-bare"),
        pytest.param(
            "[2001:db8::53]:5353", "2001:db8::53", 5353, "[2001:db8::53]:5353", id="ipv6-port"
        ),
        pytest.param("fe80::1%eth0", "fe80::1%eth0", 53, "fe80::1%eth0", id="scoped-link-local"),
    ],
)
def test_resolver_spec(text, address, port, shown):
    resolver = parse_options(DnsResolver, text)
    assert (str(resolver.address), resolver.port, str(resolver)) == (address, port, shown)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"resolvers": ["dns.example.net"]}, id="resolver-must-be-an-address"),
        pytest.param({"resolvers": ["10.0.0.1:0"]}, id="port-zero"),
        pytest.param({"resolvers": ["[::1]5353"]}, id="junk-after-bracket"),
        pytest.param({"local_addresses": ["not-an-ip"]}, id="bad-local-address"),
        pytest.param({"query_timeout": 0}, id="zero-timeout"),
        pytest.param(
            {"check_forward": False, "check_reverse": False, "check_resolvers": False},
            id="nothing-to-check",
        ),
        pytest.param({"resolver": ["10.0.0.1"]}, id="typo-refused"),
    ],
)
def test_bad_options_are_refused(raw):
    with pytest.raises(OptionsError):
        DnsCheck.from_config(raw)


def test_defaults():
    opts = DnsOptions()
    assert opts.resolv_conf == Path("/etc/resolv.conf")
    assert opts.resolvers is None and opts.hostname is None and opts.local_addresses is None
    assert (opts.test_name, opts.query_timeout, opts.timeout) == ("example.com", 2.0, None)


def test_resolv_conf(tmp_path: Path):
    path = tmp_path / "resolv.conf"
    path.write_text(
        "# generated\n"
        "search example.net\n"
        "nameserver 10.0.0.53\n"
        "nameserver 2001:db8::53 # second\n"
        "nameserver 127.0.0.1:5353\n"
        "nameserver not-an-address\n"
        "; nameserver 10.9.9.9\n"
        "options timeout:2 attempts:1\n"
    )
    assert [str(r) for r in read_resolv_conf(path)] == [
        "10.0.0.53",
        "2001:db8::53",
        "127.0.0.1:5353",
    ]


def test_reverse_candidates_leave_out_what_has_no_ptr():
    addresses = [
        ip("127.0.0.1"),
        ip("::1"),
        ip("fe80::1"),
        ip("169.254.0.7"),
        ip("0.0.0.0"),
        ip("2001:db8::2"),
        ip("192.0.2.2"),
        ip("10.1.2.3"),
    ]
    assert [str(a) for a in reverse_candidates(addresses)] == [
        "10.1.2.3",
        "192.0.2.2",
        "2001:db8::2",
    ]


def test_interface_addresses_come_from_psutil():
    found = interface_addresses()
    everything = set().union(*found.values())
    assert ip("127.0.0.1") in everything
    assert all(isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address) for a in everything)


BY_INTERFACE = {
    "lo": {ip("127.0.0.1"), ip("::1")},
    "eth0": {ip("192.0.2.2"), ip("fe80::1")},
    "docker0": {ip("172.17.0.1")},
    "br-1a2b3c": {ip("172.18.0.1")},
    "veth12ab": {ip("fe80::2")},
}


@pytest.mark.parametrize(
    ("exclude", "kept"),
    [
        pytest.param(
            list(DnsOptions().exclude_interfaces),
            {"127.0.0.1", "::1", "192.0.2.2", "fe80::1"},
            id="default-skips-container-bridges",
        ),
        pytest.param(
            [],
            {"127.0.0.1", "::1", "192.0.2.2", "fe80::1", "172.17.0.1", "172.18.0.1", "fe80::2"},
            id="nothing-excluded",
        ),
        pytest.param(["eth*", "lo"], {"172.17.0.1", "172.18.0.1", "fe80::2"}, id="globs"),
    ],
)
def test_split_local(exclude, kept):
    everything, chosen = split_local(BY_INTERFACE, exclude)
    assert everything == set().union(*BY_INTERFACE.values())  # all count for forward
    assert {str(a) for a in chosen} == kept


def _probe(text: str, ok: bool) -> ResolverReading:
    return ResolverReading(parse_options(DnsResolver, text), ok, f"{text} said so", 1.0)


@pytest.mark.parametrize(
    ("probes", "status", "summary"),
    [
        pytest.param(
            [_probe("10.0.0.1", True)], Status.OK, "resolver resolves example.com", id="one-ok"
        ),
        pytest.param(
            [_probe("10.0.0.1", True), _probe("10.0.0.2", True)],
            Status.OK,
            "2 resolvers resolve example.com",
            id="two-ok",
        ),
        pytest.param(
            [_probe("10.0.0.1", True), _probe("10.0.0.2", False)],
            Status.WARNING,
            "1 of 2 resolvers failing: 10.0.0.2 said so",
            id="some-fail",
        ),
        pytest.param(
            [_probe("10.0.0.1", False), _probe("10.0.0.2", False)],
            Status.CRITICAL,
            "all 2 resolvers failing: 10.0.0.1 said so; 10.0.0.2 said so",
            id="all-fail",
        ),
        pytest.param(
            [_probe("10.0.0.1", False)],
            Status.CRITICAL,
            "resolver failing: 10.0.0.1 said so",
            id="only-one-fails",
        ),
    ],
)
def test_judge_resolvers(probes, status, summary):
    assert judge_resolvers(probes, "example.com") == (status, summary)


@pytest.mark.parametrize(
    ("reading", "status", "summary"),
    [
        pytest.param(
            ForwardReading(HOST, ("192.0.2.2", "2001:db8::2")),
            Status.OK,
            f"{HOST} resolves to 192.0.2.2, 2001:db8::2",
            id="all-local",
        ),
        pytest.param(
            ForwardReading(HOST, ("192.0.2.2", "192.0.2.99")),
            Status.WARNING,
            f"{HOST} resolves to 192.0.2.99, not this host's (besides its own 192.0.2.2)",
            id="one-foreign",
        ),
        pytest.param(
            ForwardReading(HOST, ("198.51.100.1",)),
            Status.CRITICAL,
            f"{HOST} resolves to 198.51.100.1, none of them this host's",
            id="all-foreign",
        ),
        pytest.param(
            ForwardReading(HOST, missing="nxdomain"),
            Status.CRITICAL,
            f"{HOST} does not resolve (NXDOMAIN)",
            id="nxdomain",
        ),
        pytest.param(
            ForwardReading(HOST, missing="noanswer"),
            Status.CRITICAL,
            f"{HOST} has no A or AAAA record",
            id="no-records",
        ),
        pytest.param(
            ForwardReading(HOST, error="A lookup timed out"),
            Status.CRITICAL,
            f"{HOST} cannot be resolved: A lookup timed out",
            id="lookup-error",
        ),
        pytest.param(
            ForwardReading(HOST, ("2001:DB8::2",)),
            Status.OK,
            f"{HOST} resolves to 2001:DB8::2",
            id="ipv6-compared-as-addresses",
        ),
    ],
)
def test_judge_forward(reading, status, summary):
    assert judge_forward(reading, LOCAL) == (status, summary)


@pytest.mark.parametrize(
    ("reading", "must_match", "status", "summary"),
    [
        pytest.param(
            ReverseReading("192.0.2.2", (HOST,), HOST),
            False,
            Status.OK,
            f"PTR of 192.0.2.2 is {HOST}, which resolves back to it",
            id="confirmed",
        ),
        pytest.param(
            ReverseReading("192.0.2.2", ("web.example.net",), "web.example.net"),
            False,
            Status.OK,
            "PTR of 192.0.2.2 is web.example.net, which resolves back to it",
            id="other-name-allowed",
        ),
        pytest.param(
            ReverseReading("192.0.2.2", ("web.example.net",), "web.example.net"),
            True,
            Status.WARNING,
            f"PTR of 192.0.2.2 is web.example.net, not {HOST}",
            id="other-name-refused",
        ),
        pytest.param(
            ReverseReading("192.0.2.2"),
            False,
            Status.WARNING,
            "192.0.2.2 has no PTR record",
            id="no-ptr",
        ),
        pytest.param(
            ReverseReading(
                "192.0.2.2", ("mail.example.net",), None, {"mail.example.net": ("192.0.2.25",)}
            ),
            False,
            Status.WARNING,
            f"PTR of 192.0.2.2 is mail.example.net (this host is {HOST}), but mail.example.net "
            "resolves to 192.0.2.25, not back to 192.0.2.2",
            id="mismatch-names-both",
        ),
        pytest.param(
            ReverseReading("192.0.2.2", ("gone.example.net",), None, {"gone.example.net": ()}),
            False,
            Status.WARNING,
            f"PTR of 192.0.2.2 is gone.example.net (this host is {HOST}), but gone.example.net "
            "does not resolve, not back to 192.0.2.2",
            id="dangling",
        ),
        pytest.param(
            ReverseReading("192.0.2.2", error="PTR lookup timed out"),
            False,
            Status.WARNING,
            "PTR of 192.0.2.2 cannot be resolved: PTR lookup timed out",
            id="lookup-error",
        ),
    ],
)
def test_judge_reverse(reading, must_match, status, summary):
    assert judge_reverse(reading, HOST, must_match) == (status, summary)


@pytest.mark.parametrize(
    ("findings", "status", "summary"),
    [
        pytest.param([(Status.OK, "a"), (Status.OK, "b")], Status.OK, "a; b", id="all-ok"),
        pytest.param(
            [(Status.OK, "a"), (Status.WARNING, "w"), (Status.CRITICAL, "c")],
            Status.CRITICAL,
            "c; w; a",
            id="worst-first",
        ),
        pytest.param(
            [(Status.OK, "a"), (Status.UNKNOWN, "u"), (Status.WARNING, "w")],
            Status.WARNING,
            "w; u; a",
            id="warning-outranks-unknown",
        ),
    ],
)
def test_report_result(findings, status, summary):
    result = Report(findings=findings).result()
    assert (result.status, result.summary) == (status, summary)
