"""Real chronyd instances for tests, on loopback ports, never touching the host's clock.

Each daemon runs ``chronyd -x -d -f CONF -u root`` (``-x``: leave the system clock
alone) from its own temporary directory (pidfile, driftfile, command socket), with
its NTP port and command port on 127.0.0.1 chosen free at start. Import the
fixtures into a test module to use them::

    from tests.support.chrony import chrony_server, chrony_client  # noqa: F401

    def test_x(chrony_server, chrony_client):
        chrony_server.port       # NTP (UDP) port serving chrony's local clock, stratum 8
        chrony_client.cmdport    # chronyc's port: chronyc -h 127.0.0.1 -p CMDPORT
        chrony_client.chronyc("tracking")  # the argv, ready for subprocess

Session-scoped fixtures, each one chronyd:

* ``chrony_server``: serves NTP from its own clock (``local stratum 8``): a reachable,
  synchronised NTP server; its own tracking shows the local reference only.
* ``chrony_client``: synchronised to ``chrony_server`` (leap status Normal), NTP off.
* ``chrony_unsynchronised``: its only source is a dead port, so it stays "Not
  synchronised" and answers NTP clients with leap indicator 3 (stratum 16).

Function-scoped ``chronyd_factory(name, lines, serve=True, wait_synchronised=False)``
starts more (e.g. a client of a skewed :mod:`tests.support.ntp_responder`) and stops
them after the test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .services import free_port, require_tool, wait_for

__all__ = [
    "Chronyd",
    "start_chronyd",
    "chrony_server",
    "chrony_client",
    "chrony_unsynchronised",
    "chronyd_factory",
]

HOST = "127.0.0.1"


@dataclass
class Chronyd:
    """One running chronyd: where it serves NTP and takes commands."""

    name: str
    port: int  # NTP port, 0 when it does not serve NTP
    cmdport: int
    directory: Path
    process: subprocess.Popen[bytes]
    chronyc_path: str = "chronyc"
    host: str = HOST
    lines: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``host:port`` of its NTP service, as the ntp check's ``servers`` takes it."""
        return f"{self.host}:{self.port}"

    @property
    def log(self) -> str:
        """What chronyd printed so far (for failure messages)."""
        path = self.directory / "chronyd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def chronyc(self, *command: str) -> list[str]:
        """The chronyc argv reaching this daemon's command port, numeric output."""
        return [self.chronyc_path, "-n", "-h", self.host, "-p", str(self.cmdport), *command]

    def tracking(self) -> str:
        """``chronyc -n tracking`` output, empty when the daemon does not answer."""
        done = subprocess.run(
            self.chronyc("tracking"), capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout if done.returncode == 0 else ""

    def synchronised(self) -> bool:
        tracking = self.tracking()
        return bool(tracking) and "Not synchronised" not in tracking

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_chronyd(name: str, lines: list[str], serve: bool = True) -> Chronyd:
    """Start a chronyd with ``lines`` added to a loopback-only configuration.

    ``serve`` opens an NTP port for clients on 127.0.0.1; the command port is always
    open on 127.0.0.1. Returns once chronyc gets an answer.
    """
    chronyd = require_tool("chronyd", "chrony")
    chronyc = require_tool("chronyc", "chrony")
    directory = Path(tempfile.mkdtemp(prefix=f"portacare-chrony-{name}-"))
    port = free_port(socket.SOCK_DGRAM) if serve else 0
    cmdport = free_port(socket.SOCK_DGRAM)
    config = [
        f"port {port}",
        *([f"bindaddress {HOST}", f"allow {HOST}"] if serve else []),
        f"cmdport {cmdport}",
        f"bindcmdaddress {HOST}",
        # its own Unix command socket: the default /run/chrony one is the host's
        f"bindcmdaddress {directory}/chronyd.sock",
        f"pidfile {directory}/chronyd.pid",
        f"driftfile {directory}/chronyd.drift",
        *lines,
    ]
    conf = directory / "chrony.conf"
    conf.write_text("\n".join(config) + "\n")
    with (directory / "chronyd.log").open("wb") as log:
        process = subprocess.Popen(
            [chronyd, "-x", "-d", "-f", str(conf), "-u", "root"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    daemon = Chronyd(name, port, cmdport, directory, process, chronyc, lines=list(config))
    try:
        wait_for(
            lambda: process.poll() is None and bool(daemon.tracking()),
            timeout=15,
            what=f"chronyd {name} (log: {daemon.log.strip()[-300:]})",
        )
    except BaseException:
        daemon.stop()
        raise
    return daemon


def _wait_synchronised(daemon: Chronyd) -> None:
    try:
        wait_for(daemon.synchronised, timeout=20, what=f"chronyd {daemon.name} synchronising")
    except BaseException:
        daemon.stop()
        raise


@pytest.fixture(scope="session")
def chrony_server() -> Iterator[Chronyd]:
    """A chronyd serving its own clock over NTP at stratum 8 on 127.0.0.1:``.port``."""
    daemon = start_chronyd("server", ["local stratum 8"])
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def chrony_client(chrony_server: Chronyd) -> Iterator[Chronyd]:
    """A chronyd synchronised to ``chrony_server`` (polling it every quarter second)."""
    daemon = start_chronyd(
        "client",
        [f"server {HOST} port {chrony_server.port} iburst minpoll -2 maxpoll -2"],
        serve=False,
    )
    _wait_synchronised(daemon)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def chrony_unsynchronised() -> Iterator[Chronyd]:
    """A chronyd whose only source is a dead port: "Not synchronised", serving stratum 16."""
    dead = free_port(socket.SOCK_DGRAM)
    daemon = start_chronyd(
        "unsynchronised", [f"server {HOST} port {dead} iburst minpoll -2 maxpoll -2"]
    )
    yield daemon
    daemon.stop()


@pytest.fixture
def chronyd_factory() -> Iterator[Callable[..., Chronyd]]:
    """Start chronyds for one test: ``chronyd_factory(name, lines, serve=True,
    wait_synchronised=False)``; all are stopped when the test ends."""
    started: list[Chronyd] = []

    def start(
        name: str, lines: list[str], serve: bool = True, wait_synchronised: bool = False
    ) -> Chronyd:
        daemon = start_chronyd(name, lines, serve=serve)
        started.append(daemon)
        if wait_synchronised:
            _wait_synchronised(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
