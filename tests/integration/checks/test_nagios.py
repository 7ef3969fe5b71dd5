"""The nagios adapter running Debian's monitoring-plugins against real things.

check_disk and check_load read this host (thresholds chosen around what it really
shows), check_ntp_time asks chronyd on a loopback port (tests/support/chrony.py)
and check_dig asks a dnsmasq this module starts on a loopback port. Every plugin
reaches OK, WARNING, CRITICAL and UNKNOWN; so do the adapter's own failures
(missing, not executable, too slow, exit code out of range).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from portacare.checks.nagios import NagiosCheck
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support import chrony
from tests.support.services import free_port, port_open, require_tool, unavailable, wait_for

pytestmark = pytest.mark.integration

# chronyd fixtures, used by name below.
chrony_server = chrony.chrony_server
chrony_unsynchronised = chrony.chrony_unsynchronised

PLUGINS = Path("/usr/lib/nagios/plugins")


def plugin(name: str, package: str = "monitoring-plugins-basic") -> str:
    path = PLUGINS / name
    if not os.access(path, os.X_OK):
        unavailable(f"{path} is not installed (Debian package {package})")
    return str(path)


def run_plugin(*command: str, **options: object) -> CheckResult:
    check = NagiosCheck.from_config({"command": list(command), **options})
    return run_check(check, timeout=60)


# -- check_load: this host's load -----------------------------------------------------------

# Thresholds of 0 rely on a load above 0.00 in at least one of the three averages:
# true on any host running a test suite (the load counts runnable processes).
LOAD_CASES = [
    pytest.param(["-w", "1000,1000,1000", "-c", "2000,2000,2000"], Status.OK, "LOAD OK", id="ok"),
    pytest.param(["-w", "0,0,0", "-c", "1000,1000,1000"], Status.WARNING, "LOAD WARNING",
                 id="warning"),
    pytest.param(["-w", "0,0,0", "-c", "0,0,0"], Status.CRITICAL, "LOAD CRITICAL",
                 id="critical"),
    pytest.param(["-w", "10", "-c", "5"], Status.UNKNOWN, "Parameter inconsistency",
                 id="unknown-inconsistent-thresholds"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "summary"), LOAD_CASES)
def test_check_load(args: list[str], status: Status, summary: str) -> None:
    result = run_plugin(plugin("check_load"), *args)
    assert result.status is status
    assert result.summary.startswith(summary)
    assert result.details["exit_code"] == int(status)
    if status is not Status.UNKNOWN:
        assert set(result.metrics) == {"load1", "load5", "load15"}
        assert result.details["perfdata"]["load1"]["warn"]["end"] == float(args[1].split(",")[0])


# -- check_disk: the filesystem of a temp folder, thresholds around its real free space ------


def _free_pct(path: Path) -> float:
    st = os.statvfs(path)
    usable = st.f_blocks - st.f_bfree + st.f_bavail
    return 100.0 * st.f_bavail / usable


def _pct(value: float) -> str:
    return f"{min(max(value, 0.0), 100.0):.0f}%"


def test_check_disk_every_status(tmp_path: Path) -> None:
    check_disk = plugin("check_disk")
    free = _free_pct(tmp_path)
    # check_disk thresholds are free space: it warns/criticals when free < threshold.
    cases = [
        (Status.OK, ["-w", _pct(free - 10), "-c", _pct(free - 20)], "DISK OK"),
        (Status.WARNING, ["-w", _pct(free + 10), "-c", _pct(free - 10)], "DISK WARNING"),
        (Status.CRITICAL, ["-w", _pct(free + 20), "-c", _pct(free + 10)], "DISK CRITICAL"),
        (Status.UNKNOWN, ["-w", "10%", "-c", "5%", "-u", "XB"], "unit type XB not known"),
    ]
    for status, args, summary in cases:
        result = run_plugin(check_disk, *args, "-p", str(tmp_path))
        assert (result.status, result.summary[: len(summary)]) == (status, summary), args
        if status is not Status.UNKNOWN:
            ((label, datum),) = result.details["perfdata"].items()
            assert datum["uom"] == "B"
            assert 0 < result.metrics[label] < datum["max"]


# -- check_ntp_time against chronyd -----------------------------------------------------------

NTP_CASES = [
    pytest.param(["-w", "1", "-c", "2"], Status.OK, "NTP OK: Offset", id="ok"),
    pytest.param(["-w", "@0:1", "-c", "2"], Status.WARNING, "NTP WARNING: Offset",
                 id="warning-offset-inside-alert-range"),
    pytest.param(["-w", "1", "-c", "@0:1"], Status.CRITICAL, "NTP CRITICAL: Offset",
                 id="critical-offset-inside-alert-range"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "summary"), NTP_CASES)
def test_check_ntp_time(
    chrony_server: chrony.Chronyd, args: list[str], status: Status, summary: str
) -> None:
    check = plugin("check_ntp_time")
    result = run_plugin(check, "-H", "127.0.0.1", "-p", str(chrony_server.port), *args)
    assert result.status is status
    assert result.summary.startswith(summary)
    assert abs(result.metrics["offset"]) < 1
    assert result.details["perfdata"]["offset"]["uom"] == "s"


def test_check_ntp_time_unsynchronised_server_is_unknown(
    chrony_unsynchronised: chrony.Chronyd,
) -> None:
    port = str(chrony_unsynchronised.port)
    check = plugin("check_ntp_time")
    result = run_plugin(check, "-H", "127.0.0.1", "-p", port, "-w", "1", "-c", "2", "-q")
    assert result.status is Status.UNKNOWN
    assert result.summary == "NTP UNKNOWN: Offset unknown"
    assert result.metrics == {}


# -- check_dig against dnsmasq ----------------------------------------------------------------


@dataclass(frozen=True)
class Dnsmasq:
    port: int


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[Dnsmasq]:
    """dnsmasq on a loopback port answering two host records and nothing else."""
    binary = require_tool("dnsmasq")
    folder = Path(tempfile.mkdtemp(prefix="portacare-dnsmasq-"))
    conf = folder / "dnsmasq.conf"
    conf.write_text("host-record=www.pcm.test,192.0.2.10\nhost-record=mail.pcm.test,192.0.2.25\n")
    port = free_port(socket.SOCK_DGRAM)
    with (folder / "dnsmasq.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "-k",
                f"--conf-file={conf}",
                "--user=root",
                f"--port={port}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                f"--pid-file={folder / 'dnsmasq.pid'}",
                "--log-facility=-",
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: process.poll() is None and port_open(port), timeout=15, what="dnsmasq")
        yield Dnsmasq(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


DIG_CASES = [
    pytest.param(["-l", "www.pcm.test"], Status.OK, "DNS OK", "192.0.2.10", id="ok"),
    pytest.param(["-l", "www.pcm.test", "-a", "192.0.2.99"], Status.WARNING, "DNS WARNING",
                 "Server not found in ANSWER SECTION", id="warning-unexpected-address"),
    pytest.param(["-l", "missing.pcm.test"], Status.CRITICAL, "DNS CRITICAL",
                 "No ANSWER SECTION found", id="critical-missing-record"),
    pytest.param([], Status.UNKNOWN, "check_dig: Could not parse arguments", "",
                 id="unknown-no-query"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "start", "contains"), DIG_CASES)
def test_check_dig(
    dnsmasq: Dnsmasq, args: list[str], status: Status, start: str, contains: str
) -> None:
    require_tool("dig", "bind9-dnsutils")
    check = plugin("check_dig", "monitoring-plugins-standard")
    result = run_plugin(check, "-H", "127.0.0.1", "-p", str(dnsmasq.port), *args)
    assert result.status is status
    assert result.summary.startswith(start)
    assert contains in result.summary
    if status is not Status.UNKNOWN:
        assert result.details["perfdata"]["time"]["uom"] == "s"
        assert 0 <= result.metrics["time"] < 10


# -- the adapter's own failures --------------------------------------------------------------


def test_missing_plugin_is_unknown(tmp_path: Path) -> None:
    result = run_plugin(str(tmp_path / "check_nothing"))
    assert result.status is Status.UNKNOWN
    assert result.summary == f"command not found: {tmp_path / 'check_nothing'}"


def test_plugin_without_execute_permission_is_unknown(tmp_path: Path) -> None:
    script = tmp_path / "check_locked"
    shutil.copy(plugin("check_load"), script)
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    result = run_plugin(str(script), "-w", "1", "-c", "2")
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(f"not allowed to run {script}")


def test_plugin_over_its_timeout_is_unknown() -> None:
    """check_ntp_time waits 10 s for a server that never answers; the adapter gives it 1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = str(silent.getsockname()[1])
        check = plugin("check_ntp_time")
        result = run_plugin(
            check, "-H", "127.0.0.1", "-p", port, "-w", "1", "-c", "2", "-t", "10",
            command_timeout=1,
        )  # fmt: skip
    assert result.status is Status.UNKNOWN
    assert result.summary == f"{check} did not finish within 1s"


PROGRAM_4 = "print('STRANGE - exit 4 | x=1;2;3'); raise SystemExit(4)"
PROGRAM_SIGNAL = "import os, signal; print('dying'); os.kill(os.getpid(), signal.SIGKILL)"
PROGRAM_LONG = (
    "print('SERVICE OK - 2 volumes | /=2643MB;5948;5958;0;5968')\n"
    "print('/ 15272 MB (77%)')\n"
    'print("/boot 68 MB (69%) | /boot=68MB;88;93;0;98")\n'
    "print(\"'data disk'=1.5GB;@1:2;~:5;0;10 inodes=12%;80;90\")\n"
)


def test_exit_code_outside_nagios_range_is_unknown() -> None:
    result = run_plugin(sys.executable, "-c", PROGRAM_4)
    assert result.status is Status.UNKNOWN
    assert result.summary == "plugin exited 4, not a Nagios status (0-3): STRANGE - exit 4"
    assert result.metrics == {"x": 1.0}


def test_plugin_killed_by_signal_is_unknown() -> None:
    result = run_plugin(sys.executable, "-c", PROGRAM_SIGNAL)
    assert result.status is Status.UNKNOWN
    assert result.summary == "plugin killed by signal 9: dying"


def test_long_output_and_perfdata_on_later_lines() -> None:
    result = run_plugin(sys.executable, "-c", PROGRAM_LONG)
    assert result.status is Status.OK
    assert result.summary == "SERVICE OK - 2 volumes"
    assert result.details["long_output"] == ["/ 15272 MB (77%)", "/boot 68 MB (69%)"]
    assert result.metrics == {"/": 2643.0, "/boot": 68.0, "data disk": 1.5, "inodes": 12.0}
    data_disk = result.details["perfdata"]["data disk"]
    assert data_disk["uom"] == "GB"
    assert data_disk["warn"] == {"range": "@1:2", "start": 1.0, "end": 2.0, "alert_inside": True}
    assert data_disk["crit"] == {"range": "~:5", "start": None, "end": 5.0, "alert_inside": False}
