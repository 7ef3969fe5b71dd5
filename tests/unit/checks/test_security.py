"""The security check's decisions: sshd messages, syslog stamps, counting, allow lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portacare.checks.auth_log import (
    AuthEvent,
    parse_message,
    parse_syslog_line,
    read_log_files,
    syslog_time,
)
from portacare.checks.firewall import Listener
from portacare.checks.options import OptionsError, parse_options
from portacare.checks.result import Status
from portacare.checks.security import (
    Finding,
    SecurityOptions,
    count_failures,
    find_compromises,
    listener_allowed,
    read_uid0_accounts,
    summarise,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "security"
AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            "Failed password for invalid user x from 1.2.3.4 port 22 ssh2",
            AuthEvent(AT, "failed", "1.2.3.4", "x", 22, "password"),
            id="failed-invalid-user",
        ),
        pytest.param(
            "Failed password for root from 2001:db8::1 port 50000 ssh2",
            AuthEvent(AT, "failed", "2001:db8::1", "root", 50000, "password"),
            id="failed-ipv6",
        ),
        pytest.param(
            "Failed keyboard-interactive/pam for alice from 10.0.0.1 port 4 ssh2",
            AuthEvent(AT, "failed", "10.0.0.1", "alice", 4, "keyboard-interactive/pam"),
            id="failed-pam",
        ),
        pytest.param(
            "Failed password for invalid user  from 1.2.3.4 port 22 ssh2",
            AuthEvent(AT, "failed", "1.2.3.4", "", 22, "password"),
            id="failed-empty-user",
        ),
        pytest.param(
            "Failed password for invalid user a from b from 1.2.3.4 port 22 ssh2",
            AuthEvent(AT, "failed", "1.2.3.4", "a from b", 22, "password"),
            id="failed-user-with-from",
        ),
        pytest.param(
            "message repeated 5 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
            AuthEvent(AT, "failed", "1.2.3.4", "root", 22, "password", 5),
            id="repeated",
        ),
        pytest.param(
            "Invalid user oracle from 198.51.100.23 port 51234",
            AuthEvent(AT, "invalid", "198.51.100.23", "oracle", 51234),
            id="invalid-user",
        ),
        pytest.param(
            "Invalid user oracle from 198.51.100.23",
            AuthEvent(AT, "invalid", "198.51.100.23", "oracle", None),
            id="invalid-user-old-sshd-without-port",
        ),
        pytest.param(
            "Accepted publickey for deploy from 192.0.2.10 port 60000 ssh2: ED25519 SHA256:x",
            AuthEvent(AT, "accepted", "192.0.2.10", "deploy", 60000, "publickey"),
            id="accepted-publickey",
        ),
        pytest.param(
            "Accepted password for alice from 1.2.3.4 port 22 ssh2",
            AuthEvent(AT, "accepted", "1.2.3.4", "alice", 22, "password"),
            id="accepted-password",
        ),
        pytest.param("Failed none for invalid user x from 1.2.3.4 port 1 ssh2", None, id="none"),
        pytest.param(
            "Connection closed by invalid user test 198.51.100.23 port 51300 [preauth]",
            None,
            id="connection-closed",
        ),
        pytest.param(
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 rhost=1.2.3.4",
            None,
            id="pam-duplicate-of-failed",
        ),
    ],
)
def test_parse_message(message: str, expected: AuthEvent | None) -> None:
    assert parse_message(message, AT) == expected


@pytest.mark.parametrize(
    ("month", "day", "clock", "now", "tz", "expected"),
    [
        pytest.param(
            11,
            26,
            "12:00:01",
            AT,
            UTC,
            datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC),
            id="same-day",
        ),
        pytest.param(
            12,
            31,
            "23:59:59",
            datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
            UTC,
            datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
            id="new-year-last-year",
        ),
        pytest.param(
            1,
            1,
            "00:00:10",
            datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
            UTC,
            datetime(2027, 1, 1, 0, 0, 10, tzinfo=UTC),
            id="new-year-this-year",
        ),
        pytest.param(
            1,
            1,
            "00:30:00",
            datetime(2026, 12, 31, 23, 50, tzinfo=UTC),
            UTC,
            datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
            id="clock-behind-log-by-minutes",
        ),
        pytest.param(
            1,
            1,
            "00:30:00",
            datetime(2026, 12, 31, 23, 50, tzinfo=UTC),
            ZoneInfo("Europe/Berlin"),
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
            id="local-zone-already-new-year",
        ),
        pytest.param(
            2,
            29,
            "10:00:00",
            datetime(2027, 3, 1, tzinfo=UTC),
            UTC,
            None,
            id="feb-29-without-leap-year",
        ),
        pytest.param(
            2,
            29,
            "10:00:00",
            datetime(2029, 1, 1, tzinfo=UTC),
            UTC,
            datetime(2028, 2, 29, 10, tzinfo=UTC),
            id="feb-29-last-year-leap",
        ),
        pytest.param(
            7,
            1,
            "12:00:00",
            datetime(2026, 7, 2, tzinfo=UTC),
            ZoneInfo("America/New_York"),
            datetime(2026, 7, 1, 16, 0, tzinfo=UTC),
            id="local-summer-time",
        ),
    ],
)
def test_syslog_time(
    month: int, day: int, clock: str, now: datetime, tz: ZoneInfo, expected: datetime | None
) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="no year fits"):
            syslog_time(month, day, clock, now, tz)
    else:
        assert syslog_time(month, day, clock, now, tz) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "Nov 26 12:00:01 host sshd[123]: Failed password for x from 1.2.3.4 port 22 ssh2",
            (
                datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC),
                "sshd",
                "Failed password for x from 1.2.3.4 port 22 ssh2",
            ),
            id="classic",
        ),
        pytest.param(
            "Nov  6 02:00:01 host sshd: Invalid user a from 1.2.3.4",
            (datetime(2026, 11, 6, 2, 0, 1, tzinfo=UTC), "sshd", "Invalid user a from 1.2.3.4"),
            id="classic-padded-day-no-pid",
        ),
        pytest.param(
            "2026-11-26T12:00:01.123456+00:00 host sshd[9]: hello",
            (datetime(2026, 11, 26, 12, 0, 1, 123456, tzinfo=UTC), "sshd", "hello"),
            id="rfc3339",
        ),
        pytest.param(
            "2026-11-26T13:00:01.5+01:00 host sshd-session[9]: hello",
            (datetime(2026, 11, 26, 12, 0, 1, 500000, tzinfo=UTC), "sshd-session", "hello"),
            id="rfc3339-offset",
        ),
        pytest.param(
            "2026-11-26T12:00:01Z host sshd[9]: hello",
            (datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC), "sshd", "hello"),
            id="rfc3339-zulu",
        ),
        pytest.param("-- Boot 1234 --", None, id="journal-boot-marker"),
        pytest.param("2026-11-26 garbage", None, id="garbage"),
        pytest.param("Foo 26 12:00:01 host sshd[1]: x", None, id="bad-month"),
    ],
)
def test_parse_syslog_line(line: str, expected: tuple[datetime, str, str] | None) -> None:
    assert parse_syslog_line(line, AT, UTC) == expected


def _ev(
    minutes: float,
    kind: str,
    source: str = "1.2.3.4",
    port: int | None = 1,
    count: int = 1,
    user: str = "root",
) -> AuthEvent:
    return AuthEvent(AT + timedelta(minutes=minutes), kind, source, user, port, None, count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], {}, id="nothing"),
        pytest.param([_ev(-1, "failed"), _ev(-2, "failed", port=2)], {"1.2.3.4": 2}, id="two"),
        pytest.param([_ev(-11, "failed"), _ev(-1, "failed")], {"1.2.3.4": 1}, id="old-left-out"),
        pytest.param([_ev(-10, "failed")], {"1.2.3.4": 1}, id="window-start-inclusive"),
        pytest.param([_ev(1, "failed")], {}, id="future-left-out"),
        pytest.param([_ev(-1, "failed", count=6)], {"1.2.3.4": 6}, id="repeated-counts"),
        pytest.param(
            [_ev(-1, "invalid", port=7), _ev(-1, "failed", port=7)],
            {"1.2.3.4": 1},
            id="invalid-then-failed-same-connection-once",
        ),
        pytest.param([_ev(-1, "invalid", port=8)], {"1.2.3.4": 1}, id="invalid-only"),
        pytest.param([_ev(-1, "accepted")], {}, id="login-is-no-failure"),
        pytest.param(
            [_ev(-1, "failed"), _ev(-1, "failed", source="5.6.7.8")],
            {"1.2.3.4": 1, "5.6.7.8": 1},
            id="per-source",
        ),
    ],
)
def test_count_failures(events: list[AuthEvent], expected: dict[str, int]) -> None:
    assert count_failures(events, AT - timedelta(minutes=10), AT) == expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [*(_ev(-5, "failed", port=p) for p in range(3)), _ev(-1, "accepted", user="alice")],
            [("alice", 3)],
            id="login-after-enough-failures",
        ),
        pytest.param(
            [*(_ev(-5, "failed", port=p) for p in range(2)), _ev(-1, "accepted")],
            [],
            id="too-few-failures",
        ),
        pytest.param(
            [_ev(-25, "failed", count=5), _ev(-9, "accepted")],
            [],
            id="failures-longer-ago-than-the-window-before-login",
        ),
        pytest.param(
            [_ev(-18, "failed", count=5), _ev(-9, "accepted")],
            [("root", 5)],
            id="failures-before-the-check-window-still-count",
        ),
        pytest.param(
            [_ev(-5, "failed", count=5), _ev(-1, "accepted", source="9.9.9.9")],
            [],
            id="login-from-another-source",
        ),
        pytest.param(
            [_ev(-5, "accepted"), _ev(-4, "failed", count=5)],
            [],
            id="failures-after-login",
        ),
        pytest.param(
            [_ev(-15, "failed", count=5), _ev(-12, "accepted")],
            [],
            id="login-before-the-check-window",
        ),
    ],
)
def test_find_compromises(events: list[AuthEvent], expected: list[tuple[str, int]]) -> None:
    found = find_compromises(
        events, AT - timedelta(minutes=10), AT, timedelta(minutes=10), min_failures=3
    )
    assert [(c.user, c.failures) for c in found] == expected


def test_classic_auth_log_across_new_year() -> None:
    now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    events = read_log_files([FIXTURES / "auth.log"], now - timedelta(minutes=20), now, UTC)
    assert count_failures(events, now - timedelta(minutes=10), now) == {
        "203.0.113.9": 7,  # 1 + "repeated 5 times" + 1 after midnight
        "198.51.100.23": 1,  # invalid user without a password try; the earlier try is too old
        "203.0.113.77": 1,
        "2001:db8::7": 1,  # sshd-session, as OpenSSH 9.8 names it
    }
    assert [e.user for e in events if e.kind == "accepted"] == ["deploy"]
    assert min(e.at for e in events) == datetime(2026, 12, 31, 23, 52, 10, tzinfo=UTC)


def test_rfc3339_auth_log_with_offsets() -> None:
    now = datetime(2026, 11, 26, 11, 55, tzinfo=UTC)
    events = read_log_files([FIXTURES / "auth-rfc3339.log"], now - timedelta(minutes=20), now, None)
    assert count_failures(events, now - timedelta(minutes=10), now) == {"192.0.2.44": 4}
    found = find_compromises(events, now - timedelta(minutes=10), now, timedelta(minutes=10), 4)
    assert [str(c) for c in found] == [
        "login as admin from 192.0.2.44 after 4 failures (2026-11-26T11:53:00Z)"
    ]


def test_long_log_is_read_backwards_only_as_far_as_needed(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    old = "Nov 26 09:00:00 h sshd[1]: Failed password for root from 10.9.9.9 port 1 ssh2\n"
    recent = "Nov 26 11:59:00 h sshd[2]: Failed password for root from 10.1.1.1 port 2 ssh2\n"
    log = tmp_path / "auth.log"
    log.write_text(old * 40000 + recent * 3)
    (tmp_path / "auth.log.1").write_text(old * 10)
    # a cap far below the file's size still finds everything in the window
    events = read_log_files([log], now - timedelta(minutes=20), now, UTC, max_bytes=256 * 1024)
    assert [(e.source, e.at.hour) for e in events] == [("10.1.1.1", 11)] * 3


def test_rotated_log_holds_the_window_start(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    line = "Nov 26 11:{m:02d}:00 h sshd[1]: Failed password for root from 10.1.1.1 port {m} ssh2\n"
    (tmp_path / "secure.1").write_text("".join(line.format(m=m) for m in (40, 52, 55)))
    (tmp_path / "secure").write_text(line.format(m=58))
    events = read_log_files([tmp_path / "secure"], now - timedelta(minutes=10), now, UTC)
    assert [e.port for e in events] == [52, 55, 58]


@pytest.mark.parametrize(
    ("passwd", "expected"),
    [
        pytest.param("root:x:0:0:root:/root:/bin/bash\n", ["root"], id="root"),
        pytest.param(
            "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nbin:x:1:1::/:/usr/sbin/nologin",
            ["root", "toor"],
            id="second-uid0",
        ),
        pytest.param("a:x:00:0::/:/bin/sh\nb:x:10:0::/:/bin/sh", [], id="only-exact-zero"),
        pytest.param("# comment:x:0:0\n+:::::::\nbroken\n", [], id="comments-nis-broken"),
    ],
)
def test_read_uid0_accounts(passwd: str, expected: list[str]) -> None:
    assert read_uid0_accounts(passwd) == expected


@pytest.mark.parametrize(
    ("listener", "options", "allowed"),
    [
        pytest.param(Listener("tcp", "0.0.0.0", 22), {}, True, id="default-ssh"),
        pytest.param(Listener("tcp", "0.0.0.0", 80), {}, False, id="default-not-80"),
        pytest.param(Listener("tcp", "127.0.0.1", 5432), {}, True, id="loopback-ignored"),
        pytest.param(
            Listener("tcp", "127.0.0.1", 5432),
            {"ignore_loopback": False},
            False,
            id="loopback-judged",
        ),
        pytest.param(
            Listener("tcp", "::1", 5432),
            {"ignore_loopback": False, "allowed_listeners": ["[::1]:5432"]},
            True,
            id="ipv6-address-port",
        ),
        pytest.param(
            Listener("tcp", "0:0::0", 443),
            {"allowed_listeners": ["[::]:443"]},
            True,
            id="ipv6-spelled-differently",
        ),
        pytest.param(
            Listener("tcp", "10.0.0.5", 443),
            {"allowed_listeners": ["10.0.0.6:443"]},
            False,
            id="other-address",
        ),
        pytest.param(
            Listener("tcp", "10.0.0.5", 443),
            {"allowed_listeners": ["*:443"]},
            True,
            id="any-address",
        ),
        pytest.param(
            Listener("tcp", "0.0.0.0", 8080, "nginx"),
            {"allowed_processes": ["nginx"]},
            True,
            id="process-allowed",
        ),
        pytest.param(
            Listener("tcp", "0.0.0.0", 8080, "nc"),
            {"allowed_processes": ["nginx"]},
            False,
            id="process-not-allowed",
        ),
    ],
)
def test_listener_allowed(listener: Listener, options: dict[str, object], allowed: bool) -> None:
    assert listener_allowed(listener, parse_options(SecurityOptions, options)) is allowed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"log_timezone": "Mars/Olympus"}, "unknown time zone", id="zone"),
        pytest.param({"ignore_sources": ["10.0.0.0/33"]}, "ignore_sources", id="network"),
        pytest.param({"allowed_listeners": ["host:22"]}, "allowed_listeners", id="address"),
        pytest.param({"allowed_listeners": ["70000"]}, "1-65535", id="port"),
        pytest.param({"window_minutes": 0}, "window_minutes", id="window"),
        pytest.param({"failure_threshold": 0}, "failure_threshold", id="threshold"),
        pytest.param({"command_prefix": ["ip"]}, "listening_source", id="prefix-needs-proc"),
        pytest.param({"journal_units": []}, "journal_units", id="no-unit"),
        pytest.param({"treshold": 3}, "treshold", id="typo"),
    ],
)
def test_options_refuse_bad_config(raw: dict[str, object], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        parse_options(SecurityOptions, raw)


@pytest.mark.parametrize(
    ("findings", "blind", "status", "summary"),
    [
        pytest.param(
            [],
            [],
            Status.OK,
            "no signs of intrusion: 3 failed SSH logins in 10 min (at most 2 per source), "
            "no UID 0 account besides root, 4 listeners allowed",
            id="ok",
        ),
        pytest.param(
            [Finding(Status.WARNING, "w"), Finding(Status.CRITICAL, "c")],
            [],
            Status.CRITICAL,
            "c; w",
            id="critical-first",
        ),
        pytest.param(
            [Finding(Status.WARNING, "w")],
            ["auth log: gone"],
            Status.WARNING,
            "w; not checked: auth log: gone",
            id="warning-with-blind-spot",
        ),
        pytest.param(
            [],
            ["auth log: gone"],
            Status.UNKNOWN,
            "cannot check auth log: gone",
            id="unknown-when-blind-and-nothing-found",
        ),
    ],
)
def test_summarise(findings: list[Finding], blind: list[str], status: Status, summary: str) -> None:
    metrics = {"ssh_failures": 3.0, "ssh_max_failures_per_source": 2.0, "listeners": 4.0}
    result = summarise(findings, blind, metrics, {"auth_log": {"window_minutes": 10}})
    assert result.status is status
    assert result.summary == summary
