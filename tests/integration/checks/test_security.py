"""The security check against auth logs and journal files the tests write, and real sockets.

Journal files are real: systemd-journal-remote turns journal export format into a
``.journal`` file that the check reads with ``journalctl --file``.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from portacare.checks.base import CheckContext
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from portacare.checks.security import SecurityCheck
from tests.support.netns import Namespace, netns_fixture, netns_tools_fixture  # noqa: F401
from tests.support.services import require_tool, unavailable

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROOT_ONLY = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
JOURNAL_REMOTE = ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")

Entry = tuple[datetime, str]  # when, sshd's message


@pytest.fixture(scope="session")
def journal_remote() -> str:
    """systemd-journal-remote, which writes real journal files from export format."""
    require_tool("journalctl", "systemd")
    found = next((p for p in JOURNAL_REMOTE if Path(p).exists()), None)
    if found is None:
        unavailable(
            "systemd-journal-remote is not installed (Debian package systemd-journal-remote)"
        )
    assert found is not None
    return found


@pytest.fixture
def write_journal(journal_remote: str, tmp_path: Path) -> Callable[..., Path]:
    """Write entries (time, message) of a unit into a new journal file; returns its path."""

    def write(entries: list[Entry], unit: str = "ssh.service", name: str = "ssh") -> Path:
        boot = uuid.uuid4().hex
        export = "".join(
            f"__REALTIME_TIMESTAMP={int(at.timestamp() * 1_000_000)}\n"
            f"__MONOTONIC_TIMESTAMP={index + 1_000_000}\n_BOOT_ID={boot}\n"
            f"_HOSTNAME=web1\n_SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER=sshd\n_PID={900 + index}\n"
            f"PRIORITY=6\nMESSAGE={message}\n\n"
            for index, (at, message) in enumerate(entries)
        )
        path = tmp_path / f"{name}.journal"
        done = subprocess.run(
            [journal_remote, "-o", str(path), "-"],
            input=export,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            pytest.fail(f"systemd-journal-remote failed: {done.stderr.strip()}")
        return path

    return write


def failures(source: str, n: int, start: datetime, user: str = "admin") -> list[Entry]:
    """``n`` failed passwords from ``source``, 10 s apart from ``start``."""
    return [
        (
            start + timedelta(seconds=10 * i),
            f"Failed password for invalid user {user}{i} from {source} port {40000 + i} ssh2",
        )
        for i in range(n)
    ]


def classic(entries: list[Entry]) -> str:
    return "".join(
        f"{at:%b} {at.day:2d} {at:%H:%M:%S} web1 sshd[77]: {msg}\n" for at, msg in entries
    )


def rfc3339(entries: list[Entry]) -> str:
    return "".join(
        f"{at.isoformat(timespec='microseconds')} web1 sshd[77]: {msg}\n" for at, msg in entries
    )


def make(tmp_path: Path, *, now: datetime = NOW, **options: Any) -> SecurityCheck:
    passwd = tmp_path / "passwd"
    if not passwd.exists():
        passwd.write_text(ROOT_ONLY)
    config = {
        "passwd_file": str(passwd),
        "log_timezone": "UTC",
        "check_listeners": False,
        **options,
    }
    context = CheckContext(state_dir=tmp_path / "state", now=lambda: now)
    return SecurityCheck.from_config(config, context)  # type: ignore[return-value]


def run(tmp_path: Path, *, now: datetime = NOW, **options: Any) -> CheckResult:
    return run_check(make(tmp_path, now=now, **options), timeout=30)


def test_quiet_host_is_ok(tmp_path: Path, netns: Namespace) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        classic(
            [
                *failures("198.51.100.1", 2, NOW - timedelta(minutes=5)),
                (
                    NOW - timedelta(minutes=1),
                    "Accepted publickey for deploy from 192.0.2.10 port 6 ssh2",
                ),
            ]
        )
    )
    netns.listen(22)
    netns.listen(5432, host="127.0.0.1")

    result = run(
        tmp_path,
        auth_logs=[str(log)],
        check_listeners=True,
        listening_source="proc",
        command_prefix=netns.prefix,
    )

    assert result.status is Status.OK, result.summary
    assert result.summary == (
        "no signs of intrusion: 2 failed SSH logins in 10 min (at most 2 per source), "
        "no UID 0 account besides root, 2 listeners allowed"
    )
    assert result.details["auth_log"]["read_from"] == str(log)


def test_brute_force_in_classic_auth_log_warns(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        classic(
            [
                *failures("203.0.113.5", 30, NOW - timedelta(minutes=25)),  # too old to count
                *failures("203.0.113.5", 12, NOW - timedelta(minutes=8)),
                *failures("198.51.100.7", 9, NOW - timedelta(minutes=6)),  # under the threshold
            ]
        )
    )

    result = run(tmp_path, auth_logs=[str(log)])

    assert result.status is Status.WARNING
    assert result.summary == "SSH brute force in the last 10 min: 203.0.113.5 (12 failures)"
    assert result.details["auth_log"]["failures_per_source"] == {
        "203.0.113.5": 12,
        "198.51.100.7": 9,
    }
    assert result.metrics["ssh_failures"] == 21


def test_login_after_brute_force_is_critical_until_the_hold_ends(tmp_path: Path) -> None:
    log = tmp_path / "secure"
    log.write_text(
        rfc3339(
            [
                *failures("203.0.113.5", 12, NOW - timedelta(minutes=9)),
                (
                    NOW - timedelta(minutes=2),
                    "Accepted password for alice from 203.0.113.5 port 5 ssh2",
                ),
            ]
        )
    )
    options: dict[str, Any] = {"auth_logs": [str(log)], "compromise_hold_minutes": 120}

    first = run(tmp_path, **options)
    assert first.status is Status.CRITICAL
    assert first.summary == (
        "login as alice from 203.0.113.5 after 12 failures (2026-11-26T11:58:00Z); "
        "SSH brute force in the last 10 min: 203.0.113.5 (12 failures)"
    )

    later = run(tmp_path, now=NOW + timedelta(minutes=30), **options)  # window moved on
    assert later.status is Status.CRITICAL
    assert later.summary == (
        "login as alice from 203.0.113.5 after 12 failures (2026-11-26T11:58:00Z)"
    )

    after_hold = run(tmp_path, now=NOW + timedelta(hours=3), **options)
    assert after_hold.status is Status.OK


def test_journal_brute_force_and_login_is_critical(
    tmp_path: Path, write_journal: Callable[..., Path]
) -> None:
    journal = write_journal(
        [
            *failures("2001:db8::66", 11, NOW - timedelta(minutes=7)),
            (
                NOW - timedelta(minutes=1),
                "Accepted publickey for root from 2001:db8::66 port 9 ssh2",
            ),
            (NOW - timedelta(minutes=1), "Failed password for root from 192.0.2.1 port 1 ssh2"),
        ]
    )

    result = run(tmp_path, log_source="journal", journal_files=[str(journal)])

    assert result.status is Status.CRITICAL
    assert result.summary.startswith(
        "login as root from 2001:db8::66 after 11 failures (2026-11-26T11:59:00Z); "
        "SSH brute force in the last 10 min: 2001:db8::66 (11 failures)"
    )
    assert result.details["auth_log"]["read_from"] == "journal"
    assert result.details["auth_log"]["failures_per_source"]["192.0.2.1"] == 1


def test_journal_brute_force_warns_and_other_units_do_not_count(
    tmp_path: Path, write_journal: Callable[..., Path]
) -> None:
    ssh = write_journal(failures("203.0.113.9", 10, NOW - timedelta(minutes=3)))
    other = write_journal(
        failures("198.51.100.50", 40, NOW - timedelta(minutes=3)),
        unit="honeypot.service",
        name="honeypot",
    )

    result = run(tmp_path, log_source="journal", journal_files=[str(ssh), str(other)])

    assert result.status is Status.WARNING
    assert result.summary == "SSH brute force in the last 10 min: 203.0.113.9 (10 failures)"


def test_journal_with_few_failures_is_ok(
    tmp_path: Path, write_journal: Callable[..., Path]
) -> None:
    journal = write_journal(
        [
            *failures("203.0.113.9", 30, NOW - timedelta(minutes=45)),  # before --since
            *failures("203.0.113.9", 3, NOW - timedelta(minutes=3)),
        ]
    )

    result = run(tmp_path, log_source="journal", journal_directory=str(journal.parent))

    assert result.status is Status.OK
    assert result.metrics["ssh_failures"] == 3


def test_ignored_sources_do_not_count(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(classic(failures("10.20.30.40", 50, NOW - timedelta(minutes=5))))

    result = run(tmp_path, auth_logs=[str(log)], ignore_sources=["10.20.0.0/16"])

    assert result.status is Status.OK


def test_extra_uid0_accounts_are_critical_and_new_ones_named(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    passwd = tmp_path / "passwd"
    passwd.write_text(ROOT_ONLY + "toor:x:0:0::/root:/bin/sh\n")

    first = run(tmp_path, auth_logs=[str(log)])
    assert first.status is Status.CRITICAL
    assert first.summary == "UID 0 account besides root: toor"

    passwd.write_text(ROOT_ONLY + "toor:x:0:0::/root:/bin/sh\nsupport:x:0:100::/:/bin/sh\n")
    second = run(tmp_path, auth_logs=[str(log)])
    assert second.status is Status.CRITICAL
    assert second.summary == (
        "UID 0 account besides root: toor; new UID 0 account besides root: support"
    )

    allowed = run(tmp_path, auth_logs=[str(log)], allowed_uid0=["root", "toor", "support"])
    assert allowed.status is Status.OK


def test_unexpected_listener_in_namespace_warns(tmp_path: Path, netns: Namespace) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    netns.listen(22)
    netns.listen(31337)
    netns.listen(8443, family=6)
    netns.listen(5353, proto="udp")  # UDP is not judged

    result = run(
        tmp_path,
        auth_logs=[str(log)],
        check_listeners=True,
        listening_source="proc",
        command_prefix=netns.prefix,
        allowed_listeners=["22", "[::]:8443"],
    )

    assert result.status is Status.WARNING
    assert result.summary == "unexpected listeners: 0.0.0.0:31337/tcp"


@pytest.fixture
def open_socket() -> Iterator[int]:
    """A real socket of this test process listening on every IPv4 address."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_unexpected_listener_of_this_host_warns_with_process(
    tmp_path: Path, open_socket: int
) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")

    result = run(tmp_path, auth_logs=[str(log)], check_listeners=True)

    # other services on this machine may warn too; this socket must be among them
    assert result.status is Status.WARNING
    me = psutil.Process().name()
    assert f"0.0.0.0:{open_socket}/tcp ({me})" in result.details["unexpected_listeners"]

    allowed = run(tmp_path, auth_logs=[str(log)], check_listeners=True, allowed_processes=[me])
    assert f"0.0.0.0:{open_socket}/tcp ({me})" not in allowed.details["unexpected_listeners"]


def test_missing_auth_log_is_unknown(tmp_path: Path) -> None:
    result = run(tmp_path, log_source="files", auth_logs=[str(tmp_path / "nope.log")])

    assert result.status is Status.UNKNOWN
    assert result.summary == f"cannot check auth log: no auth log found ({tmp_path}/nope.log)"


def test_unreadable_journal_is_unknown(tmp_path: Path, journal_remote: str) -> None:
    result = run(tmp_path, log_source="journal", journal_directory=str(tmp_path / "no-such-dir"))

    assert result.status is Status.UNKNOWN
    assert result.summary.startswith("cannot check auth log: journalctl -o json")


def test_missing_passwd_is_unknown_but_findings_still_count(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(classic(failures("203.0.113.5", 10, NOW - timedelta(minutes=2))))
    options: dict[str, Any] = {"auth_logs": [str(log)], "passwd_file": str(tmp_path / "missing")}

    result = run(tmp_path, **options)

    assert result.status is Status.WARNING
    assert result.summary.endswith(
        f"; not checked: accounts: cannot read {tmp_path}/missing: No such file or directory"
    )
    log.write_text("")
    assert run(tmp_path, **options).status is Status.UNKNOWN


def test_unreadable_sockets_are_unknown(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")

    result = run(
        tmp_path,
        auth_logs=[str(log)],
        check_listeners=True,
        listening_source="proc",
        proc_net_dir=str(tmp_path / "no-proc"),
    )

    assert result.status is Status.UNKNOWN
    assert result.summary == (
        f"cannot check listeners: cannot read {tmp_path}/no-proc/tcp: No such file or directory"
    )


def test_login_after_failures_counts_with_no_hold(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        classic(
            [
                *failures("203.0.113.5", 10, NOW - timedelta(minutes=9)),
                (NOW - timedelta(minutes=1), "Accepted password for bob from 203.0.113.5 port 1"),
            ]
        )
    )
    options: dict[str, Any] = {"auth_logs": [str(log)], "compromise_hold_minutes": 0}

    assert run(tmp_path, **options).status is Status.CRITICAL
    assert run(tmp_path, now=NOW + timedelta(minutes=12), **options).status is Status.OK
