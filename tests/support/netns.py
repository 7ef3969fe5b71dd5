"""Network namespaces for firewall tests: real rules and real sockets, isolated from the host.

Import ``netns_fixture`` and ``netns_tools_fixture`` into a test module; they provide
the fixtures ``netns_tools`` (session), which makes sure ``ip``, ``nft`` and
``iptables-restore`` exist and that this machine lets us create a namespace, and
``netns`` (per test), which hands out a fresh namespace and deletes it afterwards with
every process started in it::

    def test_blocked(netns):
        netns.load_nft("flush ruleset\\ntable inet f { chain i { type filter hook input "
                       "priority 0; policy drop; } }")
        netns.listen(2222)
        check = FirewallCheck.from_config({"command_prefix": netns.prefix, ...})
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.services import require_tool, unavailable

__all__ = ["Namespace", "netns_fixture", "netns_tools_fixture"]

_LISTENER = """
import socket, sys, time
proto, family, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if family == "6" else socket.AF_INET
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
sock = socket.socket(fam, kind)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == "6":
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
sock.bind(("::" if family == "6" else sys.argv[4], port))
if proto == "tcp":
    sock.listen()
print("ready", flush=True)
time.sleep(3600)
"""


@dataclass
class Namespace:
    """One network namespace: its name, the argv prefix to run in it, its processes."""

    name: str
    ip: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        return [self.ip, "netns", "exec", self.name]

    def run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace; fail the test with its stderr if it fails."""
        done = subprocess.run(
            [*self.prefix, *argv], input=stdin, capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            pytest.fail(f"{argv[0]} in {self.name} failed: {done.stderr.strip()}")
        return done

    def load_nft(self, ruleset: str) -> None:
        """Replace the namespace's nftables ruleset (``nft -f -``)."""
        self.run(["nft", "-f", "-"], stdin=ruleset)

    def load_iptables(self, rules: str, family: int = 4) -> None:
        """Load an iptables-save dump with iptables-restore (ip6tables-restore for 6)."""
        self.run(["iptables-restore" if family == 4 else "ip6tables-restore"], stdin=rules)

    def listen(self, port: int, proto: str = "tcp", family: int = 4, host: str = "0.0.0.0") -> None:
        """Open a real listening socket inside the namespace until the test ends."""
        proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-c", _LISTENER, proto, str(family), str(port), host],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            _, err = proc.communicate(timeout=5)
            pytest.fail(f"listener on {port}/{proto} in {self.name} did not start: {err}")

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()
            proc.communicate(timeout=10)
        self.processes.clear()
        subprocess.run([self.ip, "netns", "delete", self.name], capture_output=True, check=False)


@pytest.fixture(scope="session", name="netns_tools")
def netns_tools_fixture() -> str:
    """The ``ip`` binary, once the tools exist and namespaces can be made here."""
    ip = require_tool("ip", "iproute2")
    require_tool("nft", "nftables")
    require_tool("iptables-restore", "iptables")
    if os.geteuid() != 0:
        unavailable("network namespaces need root")
    probe = f"pc-probe-{uuid.uuid4().hex[:8]}"
    done = subprocess.run([ip, "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot create a network namespace: {done.stderr.strip()}")
    subprocess.run([ip, "netns", "delete", probe], capture_output=True, check=False)
    return ip


@pytest.fixture(name="netns")
def netns_fixture(netns_tools: str) -> Iterator[Namespace]:
    """A fresh, empty network namespace (loopback up), deleted after the test."""
    name = f"pc-fw-{uuid.uuid4().hex[:10]}"
    subprocess.run([netns_tools, "netns", "add", name], check=True, capture_output=True)
    ns = Namespace(name, netns_tools)
    try:
        ns.run(["ip", "link", "set", "lo", "up"])
        yield ns
    finally:
        ns.close()
