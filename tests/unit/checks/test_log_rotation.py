"""Decision logic of the log_rotation check: names, state file, judging, options."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portacare.checks.log_rotation import (
    DEFAULT_LOGS,
    STATE_FILES,
    Finding,
    LogFile,
    LogRotationOptions,
    Remediation,
    Rotation,
    compress_rotation,
    find_logs,
    judge_log,
    judge_state,
    last_rotation,
    parse_hours,
    parse_state,
    rotation_pattern,
    rotation_rank,
    summarise,
    uncompressed_leftovers,
)
from portacare.checks.options import OptionsError, parse_options
from portacare.checks.result import Status

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR
OPTIONS = LogRotationOptions()


@pytest.mark.parametrize(
    ("name", "rotated"),
    [
        pytest.param("syslog.1", True, id="numbered"),
        pytest.param("syslog.12.gz", True, id="numbered-gz"),
        pytest.param("syslog.3.xz", True, id="numbered-xz"),
        pytest.param("syslog.4.zst", True, id="numbered-zst"),
        pytest.param("syslog-20261120", True, id="dateext"),
        pytest.param("syslog-20261120.gz", True, id="dateext-gz"),
        pytest.param("syslog-2026-11-20.bz2", True, id="dateformat-dashes"),
        pytest.param("syslog-20261120-1764100000", True, id="dateformat-epoch"),
        pytest.param("syslog", False, id="live"),
        pytest.param("syslog.gz", False, id="compressed-without-number"),
        pytest.param("syslog.old", False, id="old"),
        pytest.param("syslog-ng.log", False, id="other-log"),
        pytest.param("syslog.1.bak", False, id="backup-copy"),
        pytest.param("xsyslog.1", False, id="prefix"),
    ],
)
def test_rotation_pattern(name: str, rotated: bool) -> None:
    assert bool(rotation_pattern("syslog").fullmatch(name)) is rotated


@pytest.mark.parametrize(
    ("names", "ordered"),
    [
        pytest.param(
            ["a.log.3.gz", "a.log.1", "a.log.10.gz", "a.log.2.gz"],
            ["a.log.1", "a.log.2.gz", "a.log.3.gz", "a.log.10.gz"],
            id="numbers",
        ),
        pytest.param(
            ["a.log-20261101.gz", "a.log-20261126", "a.log-20261119.gz"],
            ["a.log-20261126", "a.log-20261119.gz", "a.log-20261101.gz"],
            id="dates",
        ),
    ],
)
def test_rotation_rank_orders_newest_first(names: list[str], ordered: list[str]) -> None:
    assert sorted(names, key=lambda n: rotation_rank("a.log", n)) == ordered


def test_find_logs_skips_rotations_and_missing(tmp_path: Path) -> None:
    for name in ("app.log", "app.log.1", "db.log", "db.log.2.gz", "old.log-20261101"):
        (tmp_path / name).write_text("x")
    (tmp_path / "dir.log").mkdir()
    found = find_logs([str(tmp_path / "*.log*"), str(tmp_path / "absent.log")])
    assert [p.name for p in found] == ["app.log", "db.log"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'logrotate state -- version 2\n"/var/log/syslog" 2026-11-26-6:25:0\n',
            {"/var/log/syslog": datetime(2026, 11, 26, 6, 25, tzinfo=UTC)},
            id="debian",
        ),
        pytest.param(
            'logrotate state -- version 2\n"/var/log/a b.log" 2026-1-2-13:05:09\n',
            {"/var/log/a b.log": datetime(2026, 1, 2, 13, 5, 9, tzinfo=UTC)},
            id="space-and-unpadded",
        ),
        pytest.param(
            "logrotate state -- version 1\n/var/log/messages 2013-4-30\n",
            {"/var/log/messages": datetime(2013, 4, 30, tzinfo=UTC)},
            id="old-format-date-only",
        ),
        pytest.param(
            'logrotate state -- version 2\n"/var/log/x" 2026-13-40-1:0:0\ngarbage\n',
            {},
            id="impossible-date-and-garbage",
        ),
    ],
)
def test_parse_state(text: str, expected: dict) -> None:
    # logrotate writes the host's local time; the table's times are read as local too
    local = {path: moment.replace(tzinfo=None).astimezone(UTC) for path, moment in expected.items()}
    assert parse_state(text) == local


@pytest.mark.parametrize(
    ("value", "hours"),
    [
        pytest.param(36, 36, id="number-is-hours"),
        pytest.param("90m", 1.5, id="minutes"),
        pytest.param("36h", 36, id="hours"),
        pytest.param("8d", 192, id="days"),
        pytest.param("2w", 336, id="weeks"),
        pytest.param("1.5d", 36, id="fraction"),
        pytest.param("off", None, id="off"),
        pytest.param(" OFF ", None, id="off-any-case"),
    ],
)
def test_parse_hours(value: object, hours: float) -> None:
    assert parse_hours(value) == hours


@pytest.mark.parametrize("value", ["8 days", "d8", "-1h", ""])
def test_parse_hours_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_hours(value)


def rot(name: str, age_h: float = 24.0) -> Rotation:
    return Rotation(Path("/var/log") / name, NOW - age_h * HOUR, 1000)


def logfile(size: int = 1000, rotations: tuple[Rotation, ...] = ()) -> LogFile:
    return LogFile(Path("/var/log/syslog"), size, NOW, rotations)


@pytest.mark.parametrize(
    ("rotations", "left"),
    [
        pytest.param((), [], id="none"),
        pytest.param((rot("syslog.1"),), [], id="only-newest-plain"),
        pytest.param((rot("syslog.1"), rot("syslog.2.gz")), [], id="delaycompress"),
        pytest.param((rot("syslog.1.gz"), rot("syslog.2.gz")), [], id="compress"),
        pytest.param(
            (rot("syslog.1"), rot("syslog.2"), rot("syslog.3.gz"), rot("syslog.4")),
            ["syslog.2", "syslog.4"],
            id="nocompress-leftovers",
        ),
    ],
)
def test_uncompressed_leftovers(rotations: tuple[Rotation, ...], left: list[str]) -> None:
    assert [r.path.name for r in uncompressed_leftovers(rotations)] == left


@pytest.mark.parametrize(
    ("log", "state_time", "expected"),
    [
        pytest.param(logfile(rotations=(rot("syslog.1"), rot("syslog.2.gz"))), None, [],
                     id="healthy"),
        pytest.param(logfile(size=300_000_000), None,
                     [(Status.WARNING, "/var/log/syslog is 300.0 MB (max 256.0 MB)")],
                     id="oversized"),
        pytest.param(logfile(size=3_000_000_000), None,
                     [(Status.CRITICAL, "/var/log/syslog is 3.0 GB (critical at 2.0 GB)")],
                     id="far-oversized"),
        pytest.param(logfile(rotations=(rot("syslog.1.gz", age_h=10 * 24),)), None,
                     [(Status.WARNING, "/var/log/syslog last rotated 10d ago (max 8d)")],
                     id="rotation-overdue"),
        pytest.param(logfile(rotations=(rot("syslog.1.gz", age_h=10 * 24),)), NOW - DAY, [],
                     id="state-says-rotated-recently"),
        pytest.param(logfile(size=0, rotations=(rot("syslog.1.gz", age_h=30 * 24),)), None, [],
                     id="empty-log-needs-no-rotation"),
        pytest.param(logfile(), NOW - 9 * DAY,
                     [(Status.WARNING, "/var/log/syslog last rotated 9d ago (max 8d)")],
                     id="never-rotated-since-state-date"),
        pytest.param(logfile(), None, [], id="never-rotated-no-date"),
        pytest.param(
            logfile(rotations=(rot("syslog.1"), rot("syslog.2"), rot("syslog.3"))), None,
            [(Status.WARNING,
              "/var/log/syslog: 2 rotated files left uncompressed (syslog.2, syslog.3)")],
            id="uncompressed"),
    ],
)  # fmt: skip
def test_judge_log(log: LogFile, state_time: float | None, expected: list) -> None:
    findings = judge_log(log, NOW, OPTIONS, state_time)
    assert [(f.status, f.text) for f in findings] == expected


def test_judge_log_switches() -> None:
    log = logfile(rotations=(rot("syslog.1", 20 * 24), rot("syslog.2", 21 * 24)))
    options = parse_options(LogRotationOptions, {"max_age": "off", "check_compression": False})
    assert options.max_age is None
    assert judge_log(log, NOW, options) == []


def test_last_rotation_takes_the_later_of_file_and_state() -> None:
    log = logfile(rotations=(rot("syslog.1", 48),))
    assert last_rotation(log, None) == NOW - 48 * HOUR
    assert last_rotation(log, NOW - HOUR) == NOW - HOUR
    assert last_rotation(logfile(), None) is None


@pytest.mark.parametrize(
    ("age_h", "limit", "status", "text"),
    [
        pytest.param(3, 36.0, Status.OK, "logrotate ran 3h ago", id="recent"),
        pytest.param(36, 36.0, Status.OK, "logrotate ran 36h ago", id="at-limit"),
        pytest.param(
            50,
            36.0,
            Status.CRITICAL,
            "logrotate has not run for 2d (state file /s; max 36h)",
            id="stale",
        ),
        pytest.param(500, None, Status.OK, "logrotate ran 21d ago", id="not-judged"),
        pytest.param(-2, 36.0, Status.OK, "logrotate ran <1min ago", id="clock-behind"),
    ],
)
def test_judge_state(age_h: float, limit: float | None, status: Status, text: str) -> None:
    finding = judge_state(Path("/s"), NOW - age_h * HOUR, NOW, limit)
    assert (finding.status, finding.text) == (status, text)


def test_summary_worst_first_with_remediation() -> None:
    findings = [
        Finding(Status.OK, "logrotate ran 3h ago"),
        Finding(Status.WARNING, "/var/log/a: 1 rotated file left uncompressed (a.2)", "/a"),
        Finding(Status.CRITICAL, "/var/log/b is 3.0 GB (critical at 2.0 GB)", "/b"),
    ]
    remediation = Remediation(compressed={"/var/log/c.2": "/var/log/c.2.gz"})
    result = summarise([logfile()], findings, "", remediation, {}, {})
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "/var/log/b is 3.0 GB (critical at 2.0 GB); 1 more problem; compressed 1 rotated file (c.2)"
    )
    assert result.details["problems"][1].startswith("/var/log/a")


def test_summary_all_ok() -> None:
    result = summarise(
        [logfile(), logfile()], [], "logrotate ran 3h ago", Remediation(), {"m": 1.0}, {}
    )
    assert (result.status, result.summary) == (
        Status.OK,
        "2 logs rotated properly; logrotate ran 3h ago",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"max_size": "2GB", "critical_size": "1GB"}, "critical_size", id="sizes"),
        pytest.param({"max_age": "8 days"}, "not a duration", id="bad-duration"),
        pytest.param({"max_age": 0}, "greater than 0", id="zero-age"),
        pytest.param({"logs": ["var/log/syslog"]}, "absolute", id="relative-log"),
        pytest.param({"max_size": "big"}, "max_size", id="bad-size"),
        pytest.param({"compres": True}, "compres", id="typo"),
    ],
)
def test_bad_options_are_refused(raw: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        parse_options(LogRotationOptions, raw)


def test_option_defaults() -> None:
    assert OPTIONS.logs == list(DEFAULT_LOGS)
    assert "/var/log/syslog" in OPTIONS.logs and "/var/log/postgresql/*.log" in OPTIONS.logs
    assert (OPTIONS.max_size, OPTIONS.critical_size) == (256_000_000, 2_000_000_000)
    assert (OPTIONS.max_age, OPTIONS.state_max_age) == (192, 36)
    assert (OPTIONS.compress, OPTIONS.check_compression, OPTIONS.state_file) == (False, True, None)
    assert STATE_FILES[0] == Path("/var/lib/logrotate/status")
    assert parse_options(LogRotationOptions, {"max_age": "8d", "state_max_age": "36h"}) == OPTIONS


def test_compress_rotation_keeps_content_and_times(tmp_path: Path) -> None:
    original = tmp_path / "app.log.2"
    original.write_bytes(b"line\n" * 1000)
    os.utime(original, ns=(1_700_000_000_000_000_000, 1_700_000_100_123_456_789))
    original.chmod(0o640)
    target = compress_rotation(original)
    assert target == tmp_path / "app.log.2.gz"
    assert not original.exists()
    st = target.stat()  # before reading it, which moves its access time
    assert gzip.decompress(target.read_bytes()) == b"line\n" * 1000
    assert (st.st_atime_ns, st.st_mtime_ns) == (
        1_700_000_000_000_000_000,
        1_700_000_100_123_456_789,
    )
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log.2.gz"]


def test_compress_rotation_never_replaces_a_gz(tmp_path: Path) -> None:
    original = tmp_path / "app.log.2"
    original.write_bytes(b"mine\n")
    (tmp_path / "app.log.2.gz").write_bytes(b"theirs")
    with pytest.raises(FileExistsError, match="app.log.2.gz already exists"):
        compress_rotation(original)
    assert original.read_bytes() == b"mine\n"
    assert (tmp_path / "app.log.2.gz").read_bytes() == b"theirs"


def test_compress_rotation_leaves_a_log_shifted_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # logrotate runs while the check compresses: .2 becomes .3 and .1 becomes .2
    second, first = tmp_path / "app.log.2", tmp_path / "app.log.1"
    second.write_bytes(b"older\n")
    first.write_bytes(b"newer\n")
    copy = shutil.copyfileobj

    def copy_during_rotation(source: object, target: object, length: int = 0) -> None:
        copy(source, target, length)  # type: ignore[arg-type]
        second.rename(tmp_path / "app.log.3")
        first.rename(second)

    monkeypatch.setattr("portacare.checks.log_rotation.shutil.copyfileobj", copy_during_rotation)
    with pytest.raises(OSError, match="changed while it was being compressed"):
        compress_rotation(second)
    assert second.read_bytes() == b"newer\n"  # the shifted log survives
    assert (tmp_path / "app.log.3").read_bytes() == b"older\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log.2", "app.log.3"]
