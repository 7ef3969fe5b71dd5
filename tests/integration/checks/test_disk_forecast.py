"""The disk check's growth forecast on a real 8 MiB tmpfs filled between runs.

The clock is the only fake: every run sees the filesystem as the kernel reports
it, while the check's context tells it ten minutes have passed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portacare.checks.base import CheckContext
from portacare.checks.disk import DiskCheck
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support.services import require_tool

pytestmark = pytest.mark.integration

KIB = 1024
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, minutes: float) -> None:
        self.moment += timedelta(minutes=minutes)


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A fresh 8 MiB tmpfs mounted in a temporary folder, unmounted afterwards."""
    mount = require_tool("mount", "mount")
    umount = require_tool("umount", "mount")
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (the test suite runs as root)", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="portacare-disk-") as tmp:
        point = Path(tmp) / "fs"
        point.mkdir()
        subprocess.run([mount, "-t", "tmpfs", "-o", "size=8M", "tmpfs", str(point)], check=True)
        try:
            yield point
        finally:
            subprocess.run([umount, str(point)], check=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_check(point: Path, clock: Clock, state_dir: Path, **options: object) -> DiskCheck:
    raw = {"include_fstypes": ["tmpfs"], "include_mounts": [str(point)], **options}
    context = CheckContext(hostname="test", state_dir=state_dir, now=clock, instance="disk")
    check = DiskCheck.from_config(raw, context)
    assert isinstance(check, DiskCheck)
    return check


def grow(point: Path, name: str, kib: int) -> None:
    """Write ``kib`` KiB of real data to a new file on the filesystem."""
    (point / name).write_bytes(os.urandom(kib * KIB))


def run_series(
    check: DiskCheck, point: Path, clock: Clock, kib_per_step: int, steps: int
) -> list[CheckResult]:
    results = []
    for step in range(steps):
        if step:
            clock.advance(10)
            grow(point, f"step-{step}", kib_per_step)
        results.append(run_check(check))
    return results


def test_no_forecast_until_enough_history(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path)
    results = run_series(check, small_fs, clock, kib_per_step=1024, steps=4)
    # fast growth, but four samples over 30 minutes are not yet a trend
    assert [r.status for r in results] == [Status.OK] * 4
    assert all("full in" not in r.summary for r in results)
    assert f"{small_fs} hours_to_full" not in results[-1].metrics


def test_slow_growth_warns_with_estimate(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path)
    # 200 KiB every 10 minutes: about 1.2 MB/h into ~7 MiB free, full in about 6 h
    results = run_series(check, small_fs, clock, kib_per_step=200, steps=6)
    assert [r.status for r in results] == [Status.OK] * 4 + [Status.WARNING] * 2
    last = results[-1]
    assert last.summary.startswith(f"{small_fs} full in ~")
    assert "at 1.2 MB/h" in last.summary
    hours = last.metrics[f"{small_fs} hours_to_full"]
    assert 4 < hours < 24
    forecast = last.details["mounts"][str(small_fs)]["forecast"]
    assert forecast["samples"] == 6
    assert forecast["span_hours"] == pytest.approx(5 / 6, abs=0.01)
    # the used-percent threshold alone would be fine
    assert last.metrics[f"{small_fs} used_pct"] < 85


def test_distant_forecast_is_ok_and_told(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path)
    # 20 KiB every 10 minutes: about 120 kB/h into 8 MiB, full in about three days
    results = run_series(check, small_fs, clock, kib_per_step=20, steps=6)
    last = results[-1]
    assert last.status is Status.OK
    assert last.summary.startswith("1 filesystems OK; fullest: ")
    assert last.summary.endswith(f"; soonest full: {small_fs} in ~3d")
    assert last.metrics[f"{small_fs} hours_to_full"] > 24


def test_fast_growth_is_critical(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path)
    # 1 MiB every 10 minutes into 8 MiB: 5 MiB used after 50 min, full in about half an hour
    results = run_series(check, small_fs, clock, kib_per_step=1024, steps=6)
    assert results[-1].status is Status.CRITICAL
    assert "full in ~" in results[-1].summary
    assert "at 6.3 MB/h" in results[-1].summary
    assert results[-1].metrics[f"{small_fs} used_pct"] < 85


def test_flat_usage_gives_no_forecast(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    grow(small_fs, "base", 4096)  # half full, but not growing
    check = make_check(small_fs, clock, tmp_path)
    results = run_series(check, small_fs, clock, kib_per_step=0, steps=8)
    assert [r.status for r in results] == [Status.OK] * 8
    assert f"{small_fs} hours_to_full" not in results[-1].metrics
    assert "1 filesystems OK" in results[-1].summary


def test_cleanup_clears_the_warning(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path)
    results = run_series(check, small_fs, clock, kib_per_step=1024, steps=6)
    assert results[-1].status is Status.CRITICAL
    for path in small_fs.iterdir():  # someone cleans up
        path.unlink()
    clock.advance(10)
    after = run_check(check)
    assert after.status is Status.OK
    assert "full in" not in after.summary


def test_threshold_and_forecast_together(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path, warning=10, critical=95)
    results = run_series(check, small_fs, clock, kib_per_step=1024, steps=6)
    last = results[-1]
    assert last.status is Status.CRITICAL
    assert "% used (warning at 10%); " in last.summary
    assert "full in ~" in last.summary


def test_state_is_kept_between_check_instances(
    small_fs: Path, clock: Clock, tmp_path: Path
) -> None:
    # the agent restarts: a new check object reads the history the old one wrote
    for step in range(6):
        if step:
            clock.advance(10)
            grow(small_fs, f"step-{step}", 1024)
        result = run_check(make_check(small_fs, clock, tmp_path))
    assert result.status is Status.CRITICAL


def test_forecast_off_leaves_only_thresholds(small_fs: Path, clock: Clock, tmp_path: Path) -> None:
    check = make_check(small_fs, clock, tmp_path, forecast=False)
    results = run_series(check, small_fs, clock, kib_per_step=1024, steps=6)
    assert results[-1].status is Status.OK
    assert not (tmp_path / "checks" / "disk.json").exists()


def test_no_forecast_without_a_state_folder(small_fs: Path, clock: Clock) -> None:
    # an ad-hoc run has no state_dir: it must not mix its history into a shared temp folder
    context = CheckContext(hostname="test", now=clock, instance="disk-adhoc")
    raw = {"include_fstypes": ["tmpfs"], "include_mounts": [str(small_fs)]}
    check = DiskCheck.from_config(raw, context)
    for step in range(6):
        if step:
            clock.advance(10)
            grow(small_fs, f"step-{step}", 1024)
        result = run_check(check)
    assert result.status is Status.OK
    assert f"{small_fs} hours_to_full" not in result.metrics


def test_no_matching_filesystem_is_unknown(clock: Clock, tmp_path: Path) -> None:
    check = make_check(tmp_path / "not-a-mount", clock, tmp_path)
    result = run_check(check)
    assert result.status is Status.UNKNOWN
    assert result.summary == "no filesystem matched the disk check's filters"
