"""disk: space and inodes used on every real mounted filesystem.

Pseudo filesystems (proc, tmpfs, overlay, squashfs…) are left out by default;
``include_*``/``exclude_*`` lists (globs) pick mounts and types, and ``mounts``
overrides thresholds per mount point::

    [checks.disk]
    warning = 85
    critical = 95
    exclude_mounts = ["/snap/*"]
    [checks.disk.mounts."/var/lib/mysql"]
    warning = 90
    critical = 97

Used percent is computed as ``df`` does: blocks reserved for root count as
unavailable, so 100 % means an ordinary process can write nothing more.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Check, CheckOptions
from .result import CheckResult, Status

log = logging.getLogger(__name__)

PSEUDO_FSTYPES = (
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl",
    "hugetlbfs", "mqueue", "nfsd", "nsfs", "overlay", "proc", "pstore", "ramfs",
    "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
)

Percent = Field(ge=0, le=100)


def _check_order(warning: float | None, critical: float | None, what: str) -> None:
    if warning is not None and critical is not None and warning > critical:
        raise ValueError(f"{what}warning ({warning}) must not exceed {what}critical ({critical})")


class MountThresholds(BaseModel):
    """Thresholds for one mount point; unset fields fall back to the check's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: float | None = Field(None, ge=0, le=100, description="used percent that warns")
    critical: float | None = Field(None, ge=0, le=100, description="used percent that is critical")
    inodes_warning: float | None = Field(None, ge=0, le=100)
    inodes_critical: float | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> MountThresholds:
        _check_order(self.warning, self.critical, "")
        _check_order(self.inodes_warning, self.inodes_critical, "inodes_")
        return self


class DiskOptions(CheckOptions):
    """Options of the disk check."""

    warning: float = Field(85, ge=0, le=100, description="used percent that warns")
    critical: float = Field(95, ge=0, le=100, description="used percent that is critical")
    inodes_warning: float = Field(85, ge=0, le=100, description="inodes used percent that warns")
    inodes_critical: float = Field(95, ge=0, le=100, description="inodes used percent, critical")
    include_mounts: list[str] = Field(default_factory=list, description="only these mounts (globs)")
    exclude_mounts: list[str] = Field(default_factory=list, description="skip these mounts (globs)")
    include_fstypes: list[str] = Field(
        default_factory=list, description="only these filesystem types (overrides the pseudo list)"
    )
    exclude_fstypes: list[str] = Field(
        default_factory=lambda: list(PSEUDO_FSTYPES), description="skip these filesystem types"
    )
    mounts: dict[str, MountThresholds] = Field(
        default_factory=dict, description="per-mount threshold overrides"
    )
    all_partitions: bool = Field(
        False, description="report every mount of a device, not only its shortest mount point"
    )
    mounts_file: Path = Field(Path("/proc/self/mounts"), description="mount table to read")

    @model_validator(mode="after")
    def _ordered(self) -> DiskOptions:
        _check_order(self.warning, self.critical, "")
        _check_order(self.inodes_warning, self.inodes_critical, "inodes_")
        return self


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    device: str
    mountpoint: str
    fstype: str


@dataclass(frozen=True)
class MountUsage:
    """Space and inode use of one mounted filesystem."""

    mount: Mount
    used_pct: float
    total_bytes: int
    free_bytes: int
    inodes_used_pct: float | None  # None where the filesystem has no fixed inode table


@dataclass(frozen=True)
class MountVerdict:
    usage: MountUsage
    status: Status
    reason: str


def read_mounts(mounts_file: Path) -> list[Mount]:
    """Parse a mount table in /proc/self/mounts format (octal escapes decoded)."""
    mounts = []
    for line in mounts_file.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
        mounts.append(Mount(device, mountpoint, fstype))
    return mounts


def _unescape(field: str) -> str:
    return field.encode("latin-1", "backslashreplace").decode("unicode_escape")


def select_mounts(mounts: list[Mount], options: DiskOptions) -> list[Mount]:
    """The mounts this check watches, after type and path filters and de-duplication."""
    chosen: dict[str, Mount] = {}
    for mount in mounts:
        included_type = not options.include_fstypes or mount.fstype in options.include_fstypes
        excluded_type = (
            mount.fstype in options.exclude_fstypes and mount.fstype not in options.include_fstypes
        )
        if not included_type or excluded_type:
            continue
        path = mount.mountpoint
        if options.include_mounts and not any(fnmatch(path, p) for p in options.include_mounts):
            continue
        if any(fnmatch(path, p) for p in options.exclude_mounts):
            continue
        # Later mounts on the same point hide earlier ones; one device mounted twice
        # (bind mounts) is one filesystem, reported under its shortest mount point.
        key = path if options.all_partitions else f"dev:{mount.device}"
        previous = chosen.get(key)
        if previous is None or options.all_partitions or len(path) < len(previous.mountpoint):
            chosen[key] = mount
    by_point = {m.mountpoint: m for m in chosen.values()}
    return sorted(by_point.values(), key=lambda m: m.mountpoint)


def measure(mount: Mount) -> MountUsage:
    """Space and inode use of ``mount`` from statvfs, computed as df does."""
    st = os.statvfs(mount.mountpoint)
    used_blocks = st.f_blocks - st.f_bfree
    usable_blocks = used_blocks + st.f_bavail
    used_pct = 100.0 * used_blocks / usable_blocks if usable_blocks else 0.0
    inodes_pct = None
    if st.f_files:
        inodes_pct = 100.0 * (st.f_files - st.f_ffree) / st.f_files
    return MountUsage(
        mount=mount,
        used_pct=round(used_pct, 2),
        total_bytes=st.f_blocks * st.f_frsize,
        free_bytes=st.f_bavail * st.f_frsize,
        inodes_used_pct=None if inodes_pct is None else round(inodes_pct, 2),
    )


def judge(usage: MountUsage, options: DiskOptions) -> MountVerdict:
    """The status of one mount against its thresholds, with the reason in words."""
    override = options.mounts.get(usage.mount.mountpoint, MountThresholds())
    limits = [
        ("", usage.used_pct, override.warning, options.warning,
         override.critical, options.critical),
        ("inodes ", usage.inodes_used_pct, override.inodes_warning, options.inodes_warning,
         override.inodes_critical, options.inodes_critical),
    ]
    verdicts = []
    for label, value, warn_o, warn_d, crit_o, crit_d in limits:
        if value is None:
            continue
        warning = warn_d if warn_o is None else warn_o
        critical = crit_d if crit_o is None else crit_o
        text = f"{usage.mount.mountpoint} {label}{value:.1f}% used"
        if value >= critical:
            verdicts.append((Status.CRITICAL, value, f"{text} (critical at {critical:g}%)"))
        elif value >= warning:
            verdicts.append((Status.WARNING, value, f"{text} (warning at {warning:g}%)"))
        else:
            verdicts.append((Status.OK, value, text))
    status, _, reason = max(verdicts, key=lambda v: (v[0].severity, v[1]))
    return MountVerdict(usage, status, reason)


class DiskCheck(Check[DiskOptions]):
    """Space and inodes used on every real mounted filesystem."""

    options_model = DiskOptions
    description = "space and inodes used per mounted filesystem"

    def run(self) -> CheckResult:
        mounts = select_mounts(read_mounts(self.options.mounts_file), self.options)
        verdicts: list[MountVerdict] = []
        unreadable: dict[str, str] = {}
        for mount in mounts:
            try:
                verdicts.append(judge(measure(mount), self.options))
            except OSError as exc:  # one stale NFS mount must not hide the others
                log.warning("disk: cannot stat %s: %s", mount.mountpoint, exc)
                unreadable[mount.mountpoint] = exc.strerror or str(exc)
        if not verdicts:
            reason = "no filesystem matched the disk check's filters"
            if unreadable:
                reason = f"no filesystem could be read ({', '.join(sorted(unreadable))})"
            return CheckResult(Status.UNKNOWN, reason, details={"unreadable": unreadable})
        return summarise(verdicts, unreadable)


def summarise(verdicts: list[MountVerdict], unreadable: dict[str, str]) -> CheckResult:
    """One result for all mounts: the worst mount named first, metrics for each."""
    worst = max(verdicts, key=lambda v: (v.status.severity, v.usage.used_pct))
    failing = [v for v in verdicts if v.status is not Status.OK]
    if failing:
        summary = worst.reason
        if len(failing) > 1:
            summary += f"; {len(failing)} of {len(verdicts)} filesystems over threshold"
    else:
        summary = f"{len(verdicts)} filesystems OK; fullest: {worst.reason}"
    if unreadable:
        summary += f"; unreadable: {', '.join(sorted(unreadable))}"
    metrics: dict[str, float] = {}
    mounts: dict[str, dict[str, object]] = {}
    for verdict in verdicts:
        usage = verdict.usage
        point = usage.mount.mountpoint
        metrics[f"{point} used_pct"] = usage.used_pct
        metrics[f"{point} free_bytes"] = usage.free_bytes
        if usage.inodes_used_pct is not None:
            metrics[f"{point} inodes_used_pct"] = usage.inodes_used_pct
        mounts[point] = {
            "device": usage.mount.device,
            "fstype": usage.mount.fstype,
            "status": verdict.status.name,
            "total_bytes": usage.total_bytes,
        }
    return CheckResult(
        worst.status, summary, metrics, {"mounts": mounts, "unreadable": unreadable}
    )
