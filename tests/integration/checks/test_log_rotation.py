"""The log_rotation check over logs rotated by the real logrotate with its own state file."""

from __future__ import annotations

import gzip
import os
import stat
import time
from pathlib import Path

import pytest

from portacare.checks.base import CheckContext
from portacare.checks.log_rotation import LogRotationCheck
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support.logrotate import (  # noqa: F401 - the fixtures are used by name
    LogrotateSandbox,
    logrotate_binary_fixture,
    logrotate_sandbox_fixture,
)

pytestmark = pytest.mark.integration


def check(sandbox: LogrotateSandbox, **options: object) -> CheckResult:
    raw = {"logs": [str(sandbox.logs / "*.log")], "state_file": str(sandbox.state), **options}
    context = CheckContext(hostname="test", state_dir=sandbox.root / "agent", instance="logs")
    return run_check(LogRotationCheck.from_config(raw, context))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_compress_with_delaycompress_is_ok(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "compress", "delaycompress"), times=3)
    assert names(box.logs) == ["app.log", "app.log.1", "app.log.2.gz", "app.log.3.gz"]
    result = check(box)
    assert result.status is Status.OK, result.summary
    assert result.summary == "1 log rotated properly; logrotate ran <1min ago"
    entry = result.details["logs"][str(box.logs / "app.log")]
    assert entry["rotations"] == 3
    assert entry["newest_rotation"] == str(box.logs / "app.log.1")


def test_compress_without_delaycompress_is_ok(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "compress"), times=3)
    assert names(box.logs) == ["app.log", "app.log.1.gz", "app.log.2.gz", "app.log.3.gz"]
    result = check(box)
    assert result.status is Status.OK, result.summary


def test_nocompress_leaves_rotations_uncompressed(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "nocompress"), times=3)
    result = check(box)
    assert result.status is Status.WARNING
    assert result.summary == (
        f"{box.logs / 'app.log'}: 2 rotated files left uncompressed (app.log.2, app.log.3)"
    )
    assert result.details["logs"][str(box.logs / "app.log")]["uncompressed"] == [
        str(box.logs / "app.log.2"),
        str(box.logs / "app.log.3"),
    ]
    # nothing was changed without compress = true
    assert names(box.logs) == ["app.log", "app.log.1", "app.log.2", "app.log.3"]


def test_compress_remediation_gzips_and_keeps_metadata(
    logrotate_sandbox: LogrotateSandbox,
) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("auth.log", "nocompress"), times=3)
    second, third = box.logs / "auth.log.2", box.logs / "auth.log.3"
    os.chown(second, 65534, 4)  # nobody:adm, as syslog's files are owned by syslog:adm
    second.chmod(0o640)
    box.age(second, 30)
    box.age(third, 54)
    before = {p: (p.read_bytes(), p.stat()) for p in (second, third)}

    result = check(box, compress=True)

    assert result.status is Status.OK, result.summary
    assert result.summary == (
        "1 log rotated properly; logrotate ran <1min ago; "
        "compressed 2 rotated files (auth.log.2, auth.log.3)"
    )
    assert result.details["compressed"] == {
        str(second): str(second) + ".gz",
        str(third): str(third) + ".gz",
    }
    assert names(box.logs) == ["auth.log", "auth.log.1", "auth.log.2.gz", "auth.log.3.gz"]
    for original, (content, st) in before.items():
        packed = original.with_name(original.name + ".gz")
        after = packed.stat()
        assert gzip.decompress(packed.read_bytes()) == content
        assert after.st_mtime_ns == st.st_mtime_ns
        assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(st.st_mode)
        assert (after.st_uid, after.st_gid) == (st.st_uid, st.st_gid)
    # the next run finds nothing left to do
    again = check(box, compress=True)
    assert again.status is Status.OK
    assert "compressed" not in again.summary


def test_compress_remediation_never_overwrites(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "nocompress"), times=3)
    (box.logs / "app.log.3.gz").write_bytes(b"someone else's file")
    result = check(box, compress=True)
    # app.log.2 was compressed; app.log.3 stayed and is still reported
    assert result.status is Status.WARNING
    assert result.summary == (
        f"{box.logs / 'app.log'}: 1 rotated file left uncompressed (app.log.3); "
        "compressed 1 rotated file (app.log.2); could not compress 1 rotated file"
    )
    assert result.details["compress_failed"] == {
        str(box.logs / "app.log.3"): "app.log.3.gz already exists"
    }
    assert (box.logs / "app.log.3.gz").read_bytes() == b"someone else's file"
    assert not list(box.logs.glob("*.tmp"))


def test_dateext_rotations_are_recognised(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    conf = box.config(
        "web.log", "nocompress", "dateext", "dateformat -%Y%m%d%H%M%S", conf_name="web.conf"
    )
    box.rotate(conf)
    time.sleep(1.1)  # dateext names are per second: two rotations need two seconds
    box.rotate(conf)
    result = check(box)
    assert result.status is Status.WARNING
    entry = result.details["logs"][str(box.logs / "web.log")]
    assert entry["rotations"] == 2
    oldest = min((p for p in box.logs.iterdir() if p.name != "web.log"), key=lambda p: p.name)
    assert result.summary.endswith(f"1 rotated file left uncompressed ({oldest.name})")


def test_stale_state_file_is_critical(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "compress", "delaycompress"), times=2)
    box.age(box.state, 50)  # cron stopped running logrotate two days ago
    result = check(box)
    assert result.status is Status.CRITICAL
    assert result.summary == (f"logrotate has not run for 2d (state file {box.state}; max 36h)")
    assert result.metrics["logrotate_age_hours"] == pytest.approx(50, abs=0.1)
    # a later real run rewrites the state file: fine again
    box.rotate(box.config("app.log", "compress", "delaycompress"), force=False)
    assert check(box).status is Status.OK


def test_state_max_age_is_configurable(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "compress"), times=1)
    box.age(box.state, 50)
    assert check(box, state_max_age="3d").status is Status.OK
    assert check(box, state_max_age="off").status is Status.OK
    assert check(box, state_max_age=49).status is Status.CRITICAL


def test_rotation_overdue_warns(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    # old.log was rotated once by a configuration since removed (its own old state)...
    box.rotate(box.config("old.log", "compress"), state=box.root / "old.status")
    box.write_log("old.log", 4096)
    box.age(box.logs / "old.log.1.gz", 24 * 10)
    # ...while logrotate keeps running daily for the other logs
    box.rotate(box.config("app.log", "compress"), times=2)
    result = check(box)
    assert result.status is Status.WARNING
    assert result.summary == f"{box.logs / 'old.log'} last rotated 10d ago (max 8d)"
    assert result.metrics[f"{box.logs / 'old.log'} rotation_age_hours"] == pytest.approx(
        240, abs=0.1
    )
    assert check(box, max_age="14d").status is Status.OK


def test_oversized_log_warns_then_is_critical_until_rotated(
    logrotate_sandbox: LogrotateSandbox,
) -> None:
    box = logrotate_sandbox
    conf = box.config("big.log", "compress", "size 40k")
    box.rotate(conf)
    box.write_log("big.log", 30_000)
    result = check(box, max_size="20kB", critical_size="100kB")
    assert result.status is Status.WARNING
    assert result.summary.startswith(f"{box.logs / 'big.log'} is 30.")
    assert result.summary.endswith(" kB (max 20.0 kB)")
    box.write_log("big.log", 100_000)
    result = check(box, max_size="20kB", critical_size="100kB")
    assert result.status is Status.CRITICAL
    assert result.summary.endswith(" kB (critical at 100.0 kB)")
    box.rotate(conf, force=False)  # the size directive makes logrotate act on its own
    result = check(box, max_size="20kB", critical_size="100kB")
    assert result.status is Status.OK, result.summary


def test_missing_state_file_is_unknown(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.write_log("app.log", 1024)
    result = check(box)  # logrotate never ran: no state file at the configured path
    assert result.status is Status.UNKNOWN
    assert result.summary == f"logrotate state file not found ({box.state})"


def test_no_log_matched_is_unknown(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("app.log", "compress"))
    result = check(box, logs=[str(box.root / "nowhere" / "*.log")])
    assert result.status is Status.UNKNOWN
    assert result.summary == f"no log matched: {box.root / 'nowhere' / '*.log'}"


def test_several_problems_worst_first(logrotate_sandbox: LogrotateSandbox) -> None:
    box = logrotate_sandbox
    box.rotate(box.config("a.log", "nocompress"), times=3)
    box.age(box.state, 40)
    result = check(box)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("logrotate has not run for 40h")
    assert result.summary.endswith("; 1 more problem")
    assert len(result.details["problems"]) == 2
