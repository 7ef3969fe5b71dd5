"""The firewall check against real nftables and iptables rules in throw-away network namespaces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from portacare.checks.base import CheckContext
from portacare.checks.firewall import FirewallCheck
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support.netns import Namespace, netns_fixture, netns_tools_fixture  # noqa: F401

pytestmark = pytest.mark.integration

GOOD_NFT = """
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
    udp dport 53 accept
    ip saddr 10.0.0.0/8 tcp dport 5432 accept
    tcp dport 25 reject
  }
  chain output { type filter hook output priority 0; policy accept; }
}
"""

GOOD_IPTABLES = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SERVICES - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -j SERVICES
-A INPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A SERVICES -p tcp -m multiport --dports 22,8000:8100 -m comment --comment "ssh and apps" -j ACCEPT
-A SERVICES -p udp -m udp --dport 53 -j ACCEPT
COMMIT
"""


def check(ns: Namespace, tmp_path: Path, **options: Any) -> FirewallCheck:
    config = {"command_prefix": ns.prefix, "listening_source": "proc", **options}
    return FirewallCheck.from_config(config, CheckContext(state_dir=tmp_path))  # type: ignore[return-value]


def run(ns: Namespace, tmp_path: Path, **options: Any) -> CheckResult:
    return run_check(check(ns, tmp_path, **options), timeout=30)


def test_nftables_ruleset_meeting_every_expectation_is_ok(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT)
    netns.listen(22)
    netns.listen(53, "udp")
    netns.listen(3306, host="127.0.0.1")  # forbidden, but loopback only and blocked anyway

    result = run(netns, tmp_path, required_ports=[22, "53/udp"], forbidden_ports=[3306, 25])

    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("firewall as expected (nftables, 6 rules;")
    assert "ipv4 closed" in result.summary and "ipv6 closed" in result.summary
    assert result.details["ports"]["22/tcp"] == {
        "ipv4": "open",
        "ipv6": "open",
        "expected": "open",
        "listening": True,
    }
    assert result.details["ports"]["3306/tcp"]["ipv4"] == "closed"
    assert result.metrics["rules"] == 6


def test_iptables_rules_are_read_with_iptables_save(netns: Namespace, tmp_path: Path) -> None:
    netns.load_iptables(GOOD_IPTABLES, 4)
    netns.load_iptables(GOOD_IPTABLES, 6)
    netns.listen(8080)
    netns.listen(8080, family=6)

    # auto: the nft view of iptables-nft tables is opaque ("xt" matches), so iptables-save wins
    result = run(netns, tmp_path, required_ports=[8080], forbidden_ports=[25, 3306])

    assert result.status is Status.OK, result.summary
    assert result.details["backend"] == "iptables"
    assert result.details["ports"]["8080/tcp"]["ipv6"] == "open"


def test_accepting_input_policy_is_critical(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT.replace("policy drop;", "policy accept;"))

    result = run(netns, tmp_path, backend="nftables")

    assert result.status is Status.CRITICAL
    assert result.summary == "ipv4 input accepts by default; ipv6 input accepts by default"


def test_ipv6_left_open_while_ipv4_is_filtered_is_critical(
    netns: Namespace, tmp_path: Path
) -> None:
    netns.load_iptables(GOOD_IPTABLES, 4)

    result = run(netns, tmp_path, backend="iptables", required_ports=[22], check_listening=False)

    assert result.status is Status.CRITICAL
    assert result.summary == "ipv6 input accepts by default"
    assert result.details["default"] == {"ipv4": "closed", "ipv6": "open"}


def test_namespace_without_any_rules_is_critical(netns: Namespace, tmp_path: Path) -> None:
    result = run(netns, tmp_path, families=["ipv4"])

    assert result.status is Status.CRITICAL
    assert result.summary.startswith("no firewall rules loaded")
    assert "ipv4 input accepts by default" in result.summary


def test_forbidden_port_open_and_listening_is_critical(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT.replace("tcp dport 22 accept", "tcp dport { 22, 3306 } accept"))
    netns.listen(3306)

    result = run(netns, tmp_path, forbidden_ports=[3306])

    assert result.status is Status.CRITICAL
    assert result.summary == "forbidden port 3306/tcp open (ipv4 open, ipv6 open)"


def test_forbidden_port_open_to_some_sources_is_critical(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT)
    netns.listen(5432)

    result = run(netns, tmp_path, forbidden_ports=[5432], families=["ipv4", "ipv6"])

    assert result.status is Status.CRITICAL
    # "ip saddr" only matches IPv4: over IPv6 the port stays closed
    assert result.summary == (
        "forbidden port 5432/tcp open (ipv4 restricted (ip saddr 10.0.0.0/8))"
    )


def test_forbidden_port_let_in_without_listener_warns(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT.replace("udp dport 53 accept", "udp dport { 53, 161 } accept"))

    result = run(netns, tmp_path, forbidden_ports=["161/udp"])

    assert result.status is Status.WARNING
    assert result.summary == (
        "forbidden port 161/udp let in (ipv4 open, ipv6 open) though nothing listens"
    )


def test_required_port_blocked_is_critical(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT)
    netns.listen(443)

    result = run(netns, tmp_path, required_ports=[22, 443])

    assert result.status is Status.CRITICAL
    assert result.summary.startswith("required port 443/tcp blocked (ipv4, ipv6)")
    assert "required port 22/tcp allowed but nothing listens" in result.summary


def test_required_port_allowed_without_listener_warns(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT)

    result = run(netns, tmp_path, required_ports=["53/udp"])

    assert result.status is Status.WARNING
    assert result.summary == "required port 53/udp allowed but nothing listens"


def test_ruleset_change_warns_with_the_diff_until_accepted(
    netns: Namespace, tmp_path: Path
) -> None:
    netns.load_nft(GOOD_NFT)
    first = run(netns, tmp_path)
    assert first.status is Status.OK
    assert first.summary.endswith("; ruleset accepted as baseline")

    netns.run(["nft", "add", "rule", "inet", "filter", "input", "tcp", "dport", "8080", "accept"])
    netns.run(
        [
            "nft",
            "delete",
            "rule",
            "inet",
            "filter",
            "input",
            "handle",
            _handle_of(netns, "udp dport 53"),
        ]
    )
    changed = run(netns, tmp_path)

    assert changed.status is Status.WARNING
    assert changed.summary.startswith("ruleset changed since baseline of ")
    assert changed.summary.endswith(": 1 rule added, 1 removed")
    assert changed.details["changes"]["added"] == ["inet filter input: tcp dport 8080 accept"]
    assert changed.details["changes"]["removed"] == ["inet filter input: udp dport 53 accept"]
    digest = changed.details["ruleset_hash"]

    assert run(netns, tmp_path).status is Status.WARNING  # still changed on the next run
    accepted = run(netns, tmp_path, accept_ruleset=digest)
    assert accepted.status is Status.OK
    assert accepted.summary.endswith("; ruleset accepted as baseline")
    again = run(netns, tmp_path)  # the accepted ruleset is the new baseline
    assert again.status is Status.OK
    assert "baseline" not in again.summary


def test_unreadable_rules_are_unknown(netns: Namespace, tmp_path: Path) -> None:
    missing = [netns.ip, "netns", "exec", f"{netns.name}-gone"]
    result = run_check(
        FirewallCheck.from_config({"command_prefix": missing}, CheckContext(state_dir=tmp_path))
    )
    assert result.status is Status.UNKNOWN
    assert "neither nftables" in result.summary and "exited" in result.summary


def test_missing_nft_binary_is_unknown(netns: Namespace, tmp_path: Path) -> None:
    result = run(netns, tmp_path, backend="nftables", nft_command="/nonexistent/nft")
    assert result.status is Status.UNKNOWN
    assert "/nonexistent/nft" in result.summary


def _handle_of(ns: Namespace, text: str) -> str:
    listing = ns.run(["nft", "-a", "list", "chain", "inet", "filter", "input"]).stdout
    line = next(line for line in listing.splitlines() if text in line)
    return line.rsplit("# handle ", 1)[1].strip()


def test_traffic_moving_counters_is_no_change(netns: Namespace, tmp_path: Path) -> None:
    netns.load_nft(GOOD_NFT.replace("iif lo accept", "iif lo counter accept"))
    assert run(netns, tmp_path).status is Status.OK

    netns.listen(2222, host="127.0.0.1")
    netns.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 2222))"]
    )
    listing = netns.run(["nft", "list", "chain", "inet", "filter", "input"]).stdout
    assert "counter packets 0 " not in listing  # the traffic was counted

    result = run(netns, tmp_path)
    assert result.status is Status.OK, result.summary
