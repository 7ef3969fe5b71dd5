"""Real dnsmasq resolvers for tests, each on its own loopback port (never port 53).

Every instance runs ``dnsmasq -k --conf-file=FILE --user=root --port=PORT
--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts`` from its own
temporary directory; the port is chosen free at start and only ever given on the
command line. Import the fixtures into a test module to use them::

    from tests.support.dnsmasq import dns_resolver, DnsZone  # noqa: F401

    def test_x(dns_resolver):
        dns_resolver.port      # UDP and TCP on 127.0.0.1
        dns_resolver.address   # "127.0.0.1:PORT", as the dns check's resolvers take it

Session-scoped fixtures, one dnsmasq each:

* ``dns_upstream``: the "internet": knows ``www.external.test`` (192.0.2.10) only and
  REFUSES everything else (it has no upstream of its own).
* ``dns_resolver``: the host's resolver: answers for ``example.test`` and
  ``0.0.127.in-addr.arpa`` from the records in :data:`ZONE` (NXDOMAIN for anything
  else there) and forwards ``external.test`` to ``dns_upstream``.
* ``dns_refusing``: no upstream at all: REFUSED for every name.
* ``dns_servfail``: validates DNSSEC from the root, forwarding to ``dns_upstream``,
  which cannot serve the root's DNSKEY: SERVFAIL for ``www.external.test`` (and
  REFUSED, passed on from upstream, for the names upstream refuses).

Function-scoped ``dnsmasq_factory(name, lines)`` starts more for one test.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .services import free_port, port_open, require_tool, wait_for

__all__ = [
    "Dnsmasq",
    "DnsZone",
    "ZONE",
    "start_dnsmasq",
    "dns_upstream",
    "dns_resolver",
    "dns_refusing",
    "dns_servfail",
    "dnsmasq_factory",
]

HOST = "127.0.0.1"
# The root zone's KSK-2017 DS: dnsmasq validates from it and fails on our fake upstream.
ROOT_TRUST_ANCHOR = (
    "trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
)


@dataclass(frozen=True)
class DnsZone:
    """The names ``dns_resolver`` serves; 127.0.0.x addresses stand in for the host's."""

    host: str = "host.example.test"  # A 127.0.0.2, AAAA fd00:5ca1::2, PTRs for both
    host_v4: str = "127.0.0.2"
    host_v6: str = "fd00:5ca1::2"
    other: str = "other.example.test"  # A 127.0.0.6 with its PTR: confirmed, another name
    other_v4: str = "127.0.0.6"
    multi: str = "multi.example.test"  # A 127.0.0.2 and 127.0.0.60 (one foreign)
    foreign_v4: str = "127.0.0.60"
    elsewhere: str = "elsewhere.example.test"  # A 127.0.0.50 only (foreign)
    elsewhere_v4: str = "127.0.0.50"
    mismatched_v4: str = "127.0.0.3"  # PTR wrong.example.test, which is A 127.0.0.9
    wrong: str = "wrong.example.test"
    wrong_v4: str = "127.0.0.9"
    dangling_v4: str = "127.0.0.5"  # PTR ghost.example.test, which does not exist
    ghost: str = "ghost.example.test"
    no_ptr_v4: str = "127.0.0.4"  # no PTR (NXDOMAIN)
    noaddr: str = "noaddr.example.test"  # exists (TXT) without A or AAAA
    missing: str = "missing.example.test"  # NXDOMAIN
    loopback: str = "loopback.example.test"  # A 127.0.0.1, which every host's lo has
    external: str = "www.external.test"  # forwarded to dns_upstream: A 192.0.2.10
    external_v4: str = "192.0.2.10"

    def resolver_lines(self, upstream_port: int) -> list[str]:
        """dnsmasq configuration of the host's resolver."""
        return [
            "local=/example.test/",
            "local=/0.0.127.in-addr.arpa/",
            f"server=/external.test/{HOST}#{upstream_port}",
            f"host-record={self.host},{self.host_v4},{self.host_v6}",
            f"host-record={self.other},{self.other_v4}",
            f"address=/{self.multi}/{self.host_v4}",
            f"address=/{self.multi}/{self.foreign_v4}",
            f"address=/{self.elsewhere}/{self.elsewhere_v4}",
            f"address=/{self.loopback}/127.0.0.1",
            f"ptr-record={_reverse(self.mismatched_v4)},{self.wrong}",
            f"address=/{self.wrong}/{self.wrong_v4}",
            f"ptr-record={_reverse(self.dangling_v4)},{self.ghost}",
            f'txt-record={self.noaddr},"no address here"',
        ]


ZONE = DnsZone()


def _reverse(ipv4: str) -> str:
    return ".".join(reversed(ipv4.split("."))) + ".in-addr.arpa"


@dataclass
class Dnsmasq:
    """One running dnsmasq."""

    name: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    host: str = HOST

    @property
    def address(self) -> str:
        """``host:port``, as the dns check's ``resolvers`` option takes it."""
        return f"{self.host}:{self.port}"

    @property
    def log(self) -> str:
        path = self.directory / "dnsmasq.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_dnsmasq(name: str, lines: list[str]) -> Dnsmasq:
    """Start a dnsmasq with configuration ``lines`` on a free loopback port."""
    binary = require_tool("dnsmasq", "dnsmasq")
    directory = Path(tempfile.mkdtemp(prefix=f"portacare-dnsmasq-{name}-"))
    conf = directory / "dnsmasq.conf"
    conf.write_text("\n".join(lines) + "\n")
    port = free_port()
    with (directory / "dnsmasq.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "-k",
                f"--conf-file={conf}",
                "--user=root",
                f"--port={port}",
                f"--listen-address={HOST}",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",  # none: the default is the system's
                "--log-facility=-",
                "--log-queries",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Dnsmasq(name, port, directory, process)
    try:
        wait_for(
            lambda: process.poll() is None and port_open(port),
            timeout=15,
            what=f"dnsmasq {name} (log: {server.log.strip()[-300:]})",
        )
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def dns_upstream() -> Iterator[Dnsmasq]:
    """Knows www.external.test only; REFUSED for any other name."""
    server = start_dnsmasq(
        "upstream",
        ["local=/external.test/", f"host-record={ZONE.external},{ZONE.external_v4}"],
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dns_resolver(dns_upstream: Dnsmasq) -> Iterator[Dnsmasq]:
    """The host's resolver: the :data:`ZONE` records, external.test forwarded upstream."""
    server = start_dnsmasq("resolver", ZONE.resolver_lines(dns_upstream.port))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dns_refusing() -> Iterator[Dnsmasq]:
    """Answers REFUSED for every name (no upstream configured)."""
    server = start_dnsmasq("refusing", [])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dns_servfail(dns_upstream: Dnsmasq) -> Iterator[Dnsmasq]:
    """SERVFAIL for www.external.test: DNSSEC validation against a root it cannot reach."""
    server = start_dnsmasq(
        "servfail", [f"server={HOST}#{dns_upstream.port}", "dnssec", ROOT_TRUST_ANCHOR]
    )
    yield server
    server.stop()


@pytest.fixture
def dnsmasq_factory() -> Iterator[Callable[[str, list[str]], Dnsmasq]]:
    """Start dnsmasqs for one test: ``dnsmasq_factory(name, lines)``; stopped afterwards."""
    started: list[Dnsmasq] = []

    def start(name: str, lines: list[str]) -> Dnsmasq:
        server = start_dnsmasq(name, lines)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
