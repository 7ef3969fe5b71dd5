"""The ntp check's parsing and decisions, by tables of cases (no services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ntplib
import pytest

from portacare.checks import CheckFailed, Status
from portacare.checks.ntp import (
    DaemonAbsent,
    DaemonState,
    DaemonUnreadable,
    NtpCheck,
    NtpOptions,
    NtpServer,
    ServerReading,
    format_offset,
    judge_daemon,
    judge_server,
    kiss_code,
    offset_status,
    parse_chrony_sources,
    parse_chrony_tracking,
    parse_ntp_conf,
    parse_timedatectl,
    parse_timesyncd_conf,
    read_daemon,
    servers_from_config,
    summarise,
)
from portacare.checks.options import OptionsError, parse_options

# Captured from chronyd 4.3 (Debian 12) synchronised to another chronyd on loopback.
TRACKING_SYNCED = """\
Reference ID    : 7F000001 (127.0.0.1)
Stratum         : 9
Ref time (UTC)  : Thu Nov 26 12:52:21 2026
System time     : 0.000002360 seconds fast of NTP time
Last offset     : +0.000000011 seconds
RMS offset      : 0.000000011 seconds
Frequency       : 2.565 ppm fast
Residual freq   : +0.000 ppm
Skew            : 18.076 ppm
Root delay      : 0.000007840 seconds
Root dispersion : 0.000003402 seconds
Update interval : 0.1 seconds
Leap status     : Normal
"""
# chronyd -x following a source 2.5 s ahead of this host.
TRACKING_SLOW = TRACKING_SYNCED.replace(
    "0.000002360 seconds fast", "2.500036240 seconds slow"
).replace("Stratum         : 9", "Stratum         : 3")
# chronyd whose only source never answered.
TRACKING_UNSYNCED = """\
Reference ID    : 00000000 ()
Stratum         : 0
Ref time (UTC)  : Thu Jan 01 00:00:00 1970
System time     : 0.000000000 seconds fast of NTP time
Last offset     : +0.000000000 seconds
RMS offset      : 0.000000000 seconds
Frequency       : 0.000 ppm slow
Residual freq   : +0.000 ppm
Skew            : 0.000 ppm
Root delay      : 1.000000000 seconds
Root dispersion : 1.000000000 seconds
Update interval : 0.0 seconds
Leap status     : Not synchronised
"""
# chronyd with "local stratum 8" and no source.
TRACKING_LOCAL = """\
Reference ID    : 7F7F0101 ()
Stratum         : 8
Ref time (UTC)  : Thu Nov 26 12:52:14 2026
System time     : 0.000000000 seconds fast of NTP time
Last offset     : +0.000000000 seconds
Leap status     : Normal
"""
SOURCES = (
    "MS Name/IP address         Stratum Poll Reach LastRx Last sample"
    + " " * 15  # chronyc pads the header
    + """
===============================================================================
^* 127.0.0.1                     8  -2   377     0  +1062ns[+1116ns] +/- 5030ns
^? 192.0.2.7                     0   6     0     -     +0ns[   +0ns] +/-    0ns
=x 198.51.100.4                  3  10   017   35m   -2ms[  -2ms] +/-   40ms
#- GPS0                          0   4   377    12   +12us[ +12us] +/-  200us
"""
)
TIMEDATECTL_SYNCED = """\
Timezone=Etc/UTC
LocalRTC=no
CanNTP=yes
NTP=yes
NTPSynchronized=yes
TimeUSec=Thu 2026-11-26 12:52:14 UTC
RTCTimeUSec=Thu 2026-11-26 12:52:14 UTC
"""


def options(**kwargs: Any) -> NtpOptions:
    return parse_options(NtpOptions, kwargs)


def reading(offset: float | None = 0.0, **kwargs: Any) -> ServerReading:
    fields: dict[str, Any] = {"stratum": 2, "leap": 0, "answered": 3, "asked": 3, "delay": 0.01}
    fields.update(kwargs)
    return ServerReading(NtpServer(host="ntp.example.net"), offset=offset, **fields)


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        pytest.param("ntp.example.net", "ntp.example.net", 123, "ntp.example.net", id="name"),
        pytest.param("10.0.0.5:1123", "10.0.0.5", 1123, "10.0.0.5:1123", id="ipv4-port"),
        pytest.param("[2001:db8::1]:1123", "2001:db8::1", 1123, "[2001:db8::1]:1123", id="v6"),
        pytest.param("[2001:db8::1]", "2001:db8::1", 123, "[2001:db8::1]", id="v6-brackets"),
        pytest.param("2001:db8::1", "2001:db8::1", 123, "[2001:db8::1]", id="v6-bare"),
        pytest.param(" 127.0.0.1:123 ", "127.0.0.1", 123, "127.0.0.1", id="default-port"),
    ],
)
def test_server_spec(text, host, port, shown):
    server = parse_options(NtpServer, text)
    assert (server.host, server.port, str(server)) == (host, port, shown)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"servers": ["ntp:0"]}, id="port-zero"),
        pytest.param({"servers": ["ntp:x"]}, id="port-not-a-number"),
        pytest.param({"servers": ["[::1]x"]}, id="junk-after-bracket"),
        pytest.param({"offset_warning_ms": 500, "offset_critical_ms": 100}, id="warn-over-crit"),
        pytest.param({"missing_daemon": "maybe"}, id="bad-status"),
        pytest.param({"daemon": "ntpd"}, id="bad-daemon"),
        pytest.param({"samples": 0}, id="no-samples"),
        pytest.param({"ofset_warning_ms": 5}, id="typo-refused"),
        pytest.param({"chronyc_host": "-m"}, id="chronyc-host-is-not-an-option"),
    ],
)
def test_bad_options_are_refused(raw):
    with pytest.raises(OptionsError):
        NtpCheck.from_config(raw)


def test_defaults():
    opts = options()
    assert (opts.offset_warning_ms, opts.offset_critical_ms) == (100, 1000)
    assert opts.servers is None and opts.missing_daemon == "OK" and opts.samples == 3
    assert opts.timeout is None  # the run's deadline stays the agent's, not a query timeout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "pool 2.debian.pool.ntp.org iburst\n", ["2.debian.pool.ntp.org"], id="debian-chrony"
        ),
        pytest.param(
            "server a.example iburst\nserver b.example port 1123 minpoll 4\npeer c.example\n",
            ["a.example", "b.example:1123", "c.example"],
            id="chrony-port-option",
        ),
        pytest.param(
            "# server commented.example\n! server bang.example\nserver x.example # why\n",
            ["x.example"],
            id="comments",
        ),
        pytest.param(
            "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nserver 0.pool.ntp.org\n",
            ["0.pool.ntp.org"],
            id="ntpd-local-clock-driver-skipped",
        ),
        pytest.param("driftfile /var/lib/chrony/drift\nmakestep 1 3\n", [], id="no-servers"),
        pytest.param("server a.example port\n", ["a.example"], id="port-without-value"),
        pytest.param(
            "server a.example port abc\nserver b.example port 99999\nserver c.example\n",
            ["c.example"],
            id="bad-ports-skipped",
        ),
    ],
)
def test_ntp_conf_servers(text, expected):
    assert [str(s) for s in parse_ntp_conf(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[Time]\nNTP=a.example b.example\n", ["a.example", "b.example"], id="two"),
        pytest.param("[Time]\n#NTP=\nFallbackNTP=f.example\n", [], id="only-fallback"),
        pytest.param("[Time]\nNTP=a.example\nNTP=b.example\n", ["b.example"], id="last-wins"),
    ],
)
def test_timesyncd_conf_servers(text, expected):
    assert [str(s) for s in parse_timesyncd_conf(text)] == expected


def test_config_search_takes_first_file_naming_servers(tmp_path: Path):
    empty = tmp_path / "chrony.conf"
    empty.write_text("makestep 1 3\n")
    sources = tmp_path / "sources.d"
    sources.mkdir()
    (sources / "site.sources").write_text("server site.example iburst\n")
    chrony = tmp_path / "chrony2.conf"
    chrony.write_text(f"pool pool.example\nsourcedir {sources}\ninclude {tmp_path}/none/*.conf\n")
    ntp = tmp_path / "ntp.conf"
    ntp.write_text("server ntp.example\n")

    found, path = servers_from_config([tmp_path / "missing", empty, chrony, ntp])

    assert path == chrony
    assert [str(s) for s in found] == ["pool.example", "site.example"]


def test_no_config_means_no_servers(tmp_path: Path):
    assert servers_from_config([tmp_path / "missing"]) == ([], None)


@pytest.mark.parametrize(
    ("text", "synchronised", "offset", "reference", "local_only", "stratum"),
    [
        pytest.param(TRACKING_SYNCED, True, -0.00000236, "127.0.0.1", False, 9, id="synced"),
        pytest.param(TRACKING_SLOW, True, 2.50003624, "127.0.0.1", False, 3, id="slow-clock"),
        pytest.param(TRACKING_UNSYNCED, False, 0.0, "00000000", False, 0, id="unsynced"),
        pytest.param(TRACKING_LOCAL, True, 0.0, "7F7F0101", True, 8, id="local-only"),
    ],
)
def test_chrony_tracking(text, synchronised, offset, reference, local_only, stratum):
    state = parse_chrony_tracking(text)
    assert state.synchronised is synchronised
    assert state.offset == pytest.approx(offset)
    assert (state.reference, state.local_only, state.stratum) == (reference, local_only, stratum)


def test_chrony_tracking_garbage_is_a_failure():
    with pytest.raises(CheckFailed, match="unexpected chronyc tracking output"):
        parse_chrony_tracking("501 Not authorised\n")


def test_chrony_sources():
    sources = parse_chrony_sources(SOURCES)
    assert [(s["name"], s["mode"], s["state"], s["reachable"]) for s in sources] == [
        ("127.0.0.1", "server", "selected", True),
        ("192.0.2.7", "server", "unreachable", False),
        ("198.51.100.4", "peer", "falseticker", True),
        ("GPS0", "refclock", "not combined", True),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(TIMEDATECTL_SYNCED, True, id="synced"),
        pytest.param(
            TIMEDATECTL_SYNCED.replace("NTPSynchronized=yes", "NTPSynchronized=no"),
            False,
            id="not-synced",
        ),
        pytest.param(TIMEDATECTL_SYNCED.replace("NTP=yes", "NTP=no"), "NTP=no", id="ntp-off"),
        pytest.param(
            TIMEDATECTL_SYNCED.replace("CanNTP=yes", "CanNTP=no"), "CanNTP=no", id="no-ntp-service"
        ),
    ],
)
def test_timedatectl(text, expected):
    state = parse_timedatectl(text)
    if isinstance(expected, bool):
        assert isinstance(state, DaemonState) and state.synchronised is expected
    else:
        assert isinstance(state, DaemonAbsent) and expected in state.reason


def test_timedatectl_garbage_is_a_failure():
    with pytest.raises(CheckFailed, match="unexpected timedatectl output"):
        parse_timedatectl("Failed to connect to bus\n")


def _stats(stratum: int, leap: int, ref_id: bytes) -> ntplib.NTPStats:
    stats = ntplib.NTPStats()
    stats.stratum, stats.leap, stats.ref_id = stratum, leap, int.from_bytes(ref_id, "big")
    return stats


@pytest.mark.parametrize(
    ("stratum", "leap", "ref_id", "expected"),
    [
        pytest.param(2, 0, b"GPS\x00", None, id="normal"),
        pytest.param(0, 3, b"\x00\x00\x00\x00", None, id="unsynchronised-is-an-answer"),
        pytest.param(0, 0, b"RATE", "RATE", id="rate"),
        pytest.param(0, 0, b"DENY", "DENY", id="deny"),
        pytest.param(0, 0, b"\x00\x00\x00\x00", "(no code)", id="empty-code"),
    ],
)
def test_kiss_code(stratum, leap, ref_id, expected):
    assert kiss_code(_stats(stratum, leap, ref_id)) == expected


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(0.0999, Status.OK, id="just-under-warning"),
        pytest.param(0.1, Status.WARNING, id="at-warning"),
        pytest.param(-0.5, Status.WARNING, id="behind-warning"),
        pytest.param(0.9999, Status.WARNING, id="just-under-critical"),
        pytest.param(1.0, Status.CRITICAL, id="at-critical"),
        pytest.param(-30.0, Status.CRITICAL, id="far-ahead"),
    ],
)
def test_offset_status(offset, expected):
    assert offset_status(offset, options()) is expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.000004, "+0.004 ms", id="microseconds"),
        pytest.param(-0.0000001, "-0.000 ms", id="tiny-negative"),
        pytest.param(0.3, "+300.0 ms", id="milliseconds"),
        pytest.param(-2.5, "-2.500 s", id="seconds"),
    ],
)
def test_format_offset(seconds, text):
    assert format_offset(seconds) == text


@pytest.mark.parametrize(
    ("reading_", "status", "text"),
    [
        pytest.param(
            reading(0.002), Status.OK, "offset +2.000 ms against ntp.example.net", id="ok"
        ),
        pytest.param(
            reading(0.25),
            Status.WARNING,
            "offset +250.0 ms against ntp.example.net (warning at 100 ms)",
            id="warning",
        ),
        pytest.param(
            reading(-3.0),
            Status.CRITICAL,
            "offset -3.000 s against ntp.example.net (critical at 1000 ms)",
            id="critical",
        ),
        pytest.param(
            reading(5.0, stratum=16, leap=3),
            Status.CRITICAL,
            "ntp.example.net is unsynchronised (stratum 16)",
            id="stratum-16-offset-ignored",
        ),
        pytest.param(
            reading(0.0, stratum=3, leap=3),
            Status.CRITICAL,
            "ntp.example.net is unsynchronised (stratum 16)",
            id="alarm-leap",
        ),
        pytest.param(
            reading(None, answered=0, error="no reply within 2s"),
            Status.WARNING,
            "ntp.example.net unreachable (no reply within 2s)",
            id="unreachable",
        ),
    ],
)
def test_judge_server(reading_, status, text):
    assert judge_server(reading_, options()) == (status, text)


SYNCED = DaemonState("chrony", True, "Normal", 0.00001, "10.0.0.1", 3)


@pytest.mark.parametrize(
    ("state", "raw", "status", "text"),
    [
        pytest.param(
            SYNCED, {}, Status.OK, "chrony synchronised to 10.0.0.1, offset +0.010 ms", id="ok"
        ),
        pytest.param(
            DaemonState("chrony", True, "Insert second", 0.2, "10.0.0.1"),
            {},
            Status.WARNING,
            "chrony synchronised to 10.0.0.1, leap status Insert second, offset +200.0 ms "
            "(warning at 100 ms)",
            id="leap-second-and-warning",
        ),
        pytest.param(
            DaemonState("chrony", True, "Normal", -1.2, "10.0.0.1"),
            {},
            Status.CRITICAL,
            "chrony synchronised to 10.0.0.1, offset -1.200 s (critical at 1000 ms)",
            id="critical-offset",
        ),
        pytest.param(
            DaemonState(
                "chrony",
                False,
                "Not synchronised",
                sources=({"name": "a", "reachable": False}, {"name": "b", "reachable": False}),
            ),
            {},
            Status.CRITICAL,
            "chrony is not synchronised; none of its 2 sources is reachable",
            id="unsynced-unreachable",
        ),
        pytest.param(
            DaemonState(
                "chrony", False, "Not synchronised", sources=({"name": "a", "reachable": True},)
            ),
            {},
            Status.CRITICAL,
            "chrony is not synchronised",
            id="unsynced-reachable",
        ),
        pytest.param(
            DaemonState("chrony", True, "Normal", 0.0, "7F7F0101", local_only=True),
            {},
            Status.WARNING,
            "chrony is synchronised only to its own local clock, no real source",
            id="local-only",
        ),
        pytest.param(
            DaemonState("timesyncd", True),
            {},
            Status.OK,
            "timesyncd synchronised",
            id="timesyncd-ok",
        ),
        pytest.param(
            DaemonState("timesyncd", False),
            {},
            Status.CRITICAL,
            "timesyncd is not synchronised",
            id="timesyncd-unsynced",
        ),
        pytest.param(
            DaemonAbsent("chronyc: gone"),
            {},
            Status.OK,
            "no time daemon found (chronyc: gone)",
            id="absent-default",
        ),
        pytest.param(
            DaemonAbsent("chronyc: gone"),
            {"missing_daemon": "CRITICAL"},
            Status.CRITICAL,
            "no time daemon found (chronyc: gone)",
            id="absent-critical",
        ),
        pytest.param(
            DaemonUnreadable("chronyc tracking failed"),
            {},
            Status.UNKNOWN,
            "cannot read the time daemon's state: chronyc tracking failed",
            id="unreadable",
        ),
    ],
)
def test_judge_daemon(state, raw, status, text):
    assert judge_daemon(state, options(**raw)) == (status, text)


@pytest.mark.parametrize(
    ("readings", "daemon", "status", "summary"),
    [
        pytest.param(
            [reading(0.002), reading(-0.004)],
            SYNCED,
            Status.OK,
            "offset -4.000 ms against ntp.example.net (largest of 2); "
            "chrony synchronised to 10.0.0.1, offset +0.010 ms",
            id="all-ok-names-largest-offset",
        ),
        pytest.param(
            [reading(0.0), reading(None, answered=0, error="timeout")],
            SYNCED,
            Status.WARNING,
            "1 of 2 NTP servers unreachable: ntp.example.net (timeout); "
            "offset +0.000 ms against ntp.example.net; chrony synchronised to 10.0.0.1, "
            "offset +0.010 ms",
            id="some-unreachable-warns",
        ),
        pytest.param(
            [reading(None, answered=0, error="timeout")] * 2,
            SYNCED,
            Status.CRITICAL,
            "all 2 NTP servers unreachable: ntp.example.net (timeout), ntp.example.net "
            "(timeout); chrony synchronised to 10.0.0.1, offset +0.010 ms",
            id="all-unreachable-critical",
        ),
        pytest.param(
            [reading(None, answered=0, error="timeout")],
            SYNCED,
            Status.CRITICAL,
            "NTP server ntp.example.net unreachable (timeout); chrony synchronised to 10.0.0.1, "
            "offset +0.010 ms",
            id="single-unreachable-critical",
        ),
        pytest.param(
            [reading(0.3), reading(2.0)],
            SYNCED,
            Status.CRITICAL,
            "offset +2.000 s against ntp.example.net (critical at 1000 ms); offset +300.0 ms "
            "against ntp.example.net (warning at 100 ms); chrony synchronised to 10.0.0.1, "
            "offset +0.010 ms",
            id="worst-first",
        ),
        pytest.param(
            [],
            DaemonAbsent("chronyc: gone"),
            Status.UNKNOWN,
            "nothing to observe: no NTP servers configured and no time daemon found "
            "(chronyc: gone)",
            id="nothing-observed",
        ),
        pytest.param(
            [reading(0.0)],
            DaemonUnreadable("boom"),
            Status.UNKNOWN,
            "cannot read the time daemon's state: boom; offset +0.000 ms against ntp.example.net",
            id="unreadable-daemon-unknown",
        ),
        pytest.param(
            [reading(0.3)],
            DaemonUnreadable("boom"),
            Status.WARNING,
            "offset +300.0 ms against ntp.example.net (warning at 100 ms); "
            "cannot read the time daemon's state: boom",
            id="known-problem-outranks-unknown",
        ),
    ],
)
def test_summarise(readings, daemon, status, summary):
    result = summarise(readings, daemon, options())
    assert result.status is status
    assert result.summary == summary


def test_required_daemon_missing_keeps_its_status_when_nothing_else_is_observed():
    result = summarise([], DaemonAbsent("chronyc: gone"), options(missing_daemon="CRITICAL"))
    assert result.status is Status.CRITICAL
    assert result.summary == "no time daemon found (chronyc: gone)"


def test_summarise_metrics_and_details():
    result = summarise([reading(0.0123, delay=0.0456)], SYNCED, options(), "/etc/chrony.conf")
    assert dict(result.metrics) == {
        "servers_reachable": 1,
        "servers_total": 1,
        "ntp.example.net offset_ms": 12.3,
        "ntp.example.net delay_ms": 45.6,
        "ntp.example.net stratum": 2,
        "daemon synchronised": 1,
        "daemon offset_ms": 0.01,
    }
    assert result.details["servers_from"] == "/etc/chrony.conf"
    assert result.details["servers"]["ntp.example.net"]["status"] == "OK"
    assert result.details["daemon"]["reference"] == "10.0.0.1"


def _script(path: Path, stdout: str, code: int = 0) -> str:
    """A stand-in command printing ``stdout`` (systemd is not PID 1 where tests run)."""
    path.write_text(f"#!/bin/sh\ncat <<'END'\n{stdout}END\nexit {code}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("daemon", "chronyc_out", "timedatectl_out", "expected"),
    [
        pytest.param(
            "auto",
            None,
            TIMEDATECTL_SYNCED,
            "timesyncd synchronised",
            id="auto-falls-back-to-timedatectl",
        ),
        pytest.param(
            "auto",
            ("506 Cannot talk to daemon\n", 1),
            TIMEDATECTL_SYNCED.replace("NTPSynchronized=yes", "NTPSynchronized=no"),
            "timesyncd is not synchronised",
            id="chronyd-down-timesyncd-unsynced",
        ),
        pytest.param(
            "auto",
            (TRACKING_SYNCED, 0),
            TIMEDATECTL_SYNCED,
            "chrony synchronised to 127.0.0.1",
            id="auto-prefers-chrony",
        ),
        pytest.param(
            "timesyncd",
            (TRACKING_SYNCED, 0),
            TIMEDATECTL_SYNCED,
            "timesyncd synchronised",
            id="timesyncd-only",
        ),
        pytest.param(
            "auto",
            None,
            ("Failed to connect to bus: No such file or directory\n", 1),
            "no time daemon found (chronyc: command not found: ",
            id="neither",
        ),
        pytest.param(
            "none",
            (TRACKING_SYNCED, 0),
            TIMEDATECTL_SYNCED,
            'no time daemon found (daemon check disabled (daemon = "none"))',
            id="disabled",
        ),
    ],
)
def test_daemon_selection(tmp_path: Path, daemon, chronyc_out, timedatectl_out, expected):
    chronyc = str(tmp_path / "no-chronyc")
    if chronyc_out is not None:
        chronyc = _script(tmp_path / "chronyc", *chronyc_out)
    if isinstance(timedatectl_out, str):
        timedatectl_out = (timedatectl_out, 0)
    timedatectl = _script(tmp_path / "timedatectl", *timedatectl_out)
    opts = options(daemon=daemon, chronyc=chronyc, timedatectl=timedatectl)

    _, text = judge_daemon(read_daemon(opts), opts)

    assert text.startswith(expected), text
