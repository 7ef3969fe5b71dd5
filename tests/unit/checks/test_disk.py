"""The disk check against this machine's real filesystems and a real tmpfs we fill."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from portacare.checks import Status, run_check
from portacare.checks.disk import DiskCheck, DiskOptions, Mount, read_mounts, select_mounts
from portacare.checks.options import OptionsError, parse_options

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "disk"


def _root_used_pct() -> float:
    st = os.statvfs("/")
    used = st.f_blocks - st.f_bfree
    return 100.0 * used / (used + st.f_bavail)


def _disk(**options: object) -> DiskCheck:
    return DiskCheck.from_config({"include_mounts": ["/"], **options})  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("offset_warning", "offset_critical", "expected"),
    [
        pytest.param(+1, +2, Status.OK, id="below-both"),
        pytest.param(-1, +1, Status.WARNING, id="between"),
        pytest.param(-2, -1, Status.CRITICAL, id="above-both"),
    ],
)
def test_root_filesystem_against_thresholds_around_its_real_usage(
    offset_warning: float, offset_critical: float, expected: Status
) -> None:
    used = _root_used_pct()
    if used < 2 or used > 98:
        pytest.fail(f"/ is {used:.1f}% used: thresholds around it cannot be placed")
    result = run_check(_disk(warning=used + offset_warning, critical=used + offset_critical))
    assert result.status is expected
    assert result.summary.startswith("/ ") or result.summary.startswith("1 filesystems OK")
    assert result.metrics["/ used_pct"] == pytest.approx(used, abs=0.5)
    assert result.metrics["/ free_bytes"] > 0
    assert "/ inodes_used_pct" in result.metrics


def test_inodes_alone_can_make_it_critical() -> None:
    result = run_check(_disk(inodes_warning=0, inodes_critical=0))
    assert result.status is Status.CRITICAL
    assert "inodes" in result.summary


def test_nothing_matching_is_unknown() -> None:
    result = run_check(_disk(include_mounts=["/no/such/mount"]))
    assert result.status is Status.UNKNOWN
    assert "no filesystem matched" in result.summary


@pytest.fixture
def filled_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs, 3 MiB of it written (about 75 % used)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.fail("mounting a test tmpfs needs root and mount(8)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        (mount_point / "fill").write_bytes(b"\0" * (3 * 1024 * 1024))
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_worst_mount_is_named_and_per_mount_overrides_apply(filled_tmpfs: Path) -> None:
    point = str(filled_tmpfs)
    options = {
        "include_fstypes": ["tmpfs", "ext4"],
        "include_mounts": ["/", point],
        "warning": 99,
        "critical": 99.5,
        "mounts": {point: {"warning": 50, "critical": 90}},
    }
    result = run_check(DiskCheck.from_config(options))
    assert result.status is Status.WARNING
    assert result.summary.startswith(f"{point} 75.")
    assert "warning at 50%" in result.summary
    assert result.details["mounts"][point]["fstype"] == "tmpfs"
    assert result.metrics[f"{point} used_pct"] == pytest.approx(75, abs=2)

    stricter = {**options, "mounts": {point: {"critical": 70}}}
    assert run_check(DiskCheck.from_config(stricter)).status is Status.CRITICAL


def test_pseudo_filesystems_are_left_out_by_default() -> None:
    mounts = read_mounts(FIXTURES / "ubuntu-22.04-mounts.txt")
    chosen = [m.mountpoint for m in select_mounts(mounts, DiskOptions())]
    assert chosen == ["/", "/media/backup disk", "/var/lib/mysql"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"exclude_mounts": ["/var/*"]}, ["/", "/media/backup disk"], id="exclude-glob"
        ),
        pytest.param({"include_mounts": ["/var/*"]}, ["/var/lib/mysql"], id="include-glob"),
        pytest.param({"include_fstypes": ["tmpfs"]}, ["/run"], id="include-pseudo-type"),
        pytest.param(
            {"all_partitions": True, "include_fstypes": ["ext4"]},
            ["/", "/media/backup disk", "/srv/bind"],
            id="bind-mounts-kept-when-asked",
        ),
    ],
)
def test_mount_filters(options: dict[str, object], expected: list[str]) -> None:
    mounts = read_mounts(FIXTURES / "ubuntu-22.04-mounts.txt")
    chosen = select_mounts(mounts, parse_options(DiskOptions, options))
    assert [m.mountpoint for m in chosen] == expected


def test_one_unreadable_mount_does_not_hide_the_others(tmp_path: Path) -> None:
    table = tmp_path / "mounts"
    table.write_text("/dev/vda / ext4 rw 0 0\n/dev/gone /gone/stale/nfs ext4 rw 0 0\n")
    result = run_check(DiskCheck.from_config({"mounts_file": str(table), "warning": 0.0}))
    assert result.status is Status.WARNING
    assert "unreadable: /gone/stale/nfs" in result.summary
    assert "/gone/stale/nfs" in result.details["unreadable"]


@pytest.mark.parametrize(
    ("options", "bad_fields"),
    [
        pytest.param({"warning": 101}, {"warning"}, id="over-100"),
        pytest.param({"critical": -1}, {"critical"}, id="negative"),
        pytest.param({"warning": 90, "critical": 80}, {""}, id="warning-above-critical"),
        pytest.param(
            {"mounts": {"/var": {"warning": "high"}}}, {"mounts./var.warning"}, id="mount"
        ),
        pytest.param(
            {"threshold": 5, "interval": 0}, {"threshold", "interval"}, id="typo-and-zero"
        ),
    ],
)
def test_options_model_rejects_bad_values(options: dict[str, object], bad_fields: set[str]) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options(DiskOptions, options)
    assert {problem.location for problem in caught.value.problems} == bad_fields


def test_escaped_mount_points_are_decoded() -> None:
    mounts = read_mounts(FIXTURES / "ubuntu-22.04-mounts.txt")
    assert Mount("/dev/sda3", "/media/backup disk", "ext4") in mounts
