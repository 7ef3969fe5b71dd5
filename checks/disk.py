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

The check also forecasts when each filesystem fills: every run records the
space available in the check's state (a bounded window, ``forecast_window``
hours), fits a line through the samples since the last clean-up, and warns
when the line reaches zero within ``forecast_warning`` hours (critical within
``forecast_critical``): "/var full in ~3h at 2.1 GB/h". Flat or shrinking use,
too little history, or no state folder in the context gives no forecast.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated

from .base import Check, CheckOptions
from .options import Meta, Options
from .options import field as option_field
from .result import CheckResult, Status

log = logging.getLogger(__name__)

# fmt: off
PSEUDO_FSTYPES = (
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl",
    "hugetlbfs", "mqueue", "nfsd", "nsfs", "overlay", "proc", "pstore", "ramfs",
    "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
)
# fmt: on

#: A used percentage, 0 to 100.
Percent = Annotated[float, Meta(ge=0, le=100)]


def _check_order(warning: float | None, critical: float | None, what: str) -> None:
    if warning is not None and critical is not None and warning > critical:
        raise ValueError(f"{what}warning ({warning}) must not exceed {what}critical ({critical})")


class MountThresholds(Options):
    """Thresholds for one mount point; unset fields fall back to the check's."""

    warning: Annotated[Percent, Meta(description="used percent that warns")] | None = None
    critical: Annotated[Percent, Meta(description="used percent that is critical")] | None = None
    inodes_warning: Percent | None = None
    inodes_critical: Percent | None = None

    def __post_init__(self) -> None:
        _check_order(self.warning, self.critical, "")
        _check_order(self.inodes_warning, self.inodes_critical, "inodes_")


class DiskOptions(CheckOptions):
    """Options of the disk check."""

    warning: Annotated[Percent, Meta(description="used percent that warns")] = 85
    critical: Annotated[Percent, Meta(description="used percent that is critical")] = 95
    inodes_warning: Annotated[Percent, Meta(description="inodes used percent that warns")] = 85
    inodes_critical: Annotated[Percent, Meta(description="inodes used percent, critical")] = 95
    include_mounts: Annotated[list[str], Meta(description="only these mounts (globs)")] = (
        option_field(default_factory=list)
    )
    exclude_mounts: Annotated[list[str], Meta(description="skip these mounts (globs)")] = (
        option_field(default_factory=list)
    )
    include_fstypes: Annotated[
        list[str], Meta(description="only these filesystem types (overrides the pseudo list)")
    ] = option_field(default_factory=list)
    exclude_fstypes: Annotated[list[str], Meta(description="skip these filesystem types")] = (
        option_field(default_factory=lambda: list(PSEUDO_FSTYPES))
    )
    mounts: Annotated[
        dict[str, MountThresholds], Meta(description="per-mount threshold overrides")
    ] = option_field(default_factory=dict)
    all_partitions: Annotated[
        bool, Meta(description="report every mount of a device, not only its shortest mount point")
    ] = False
    mounts_file: Annotated[Path, Meta(description="mount table to read")] = Path(
        "/proc/self/mounts"
    )
    forecast: Annotated[bool, Meta(description="forecast when each filesystem fills")] = True
    forecast_warning: Annotated[
        float, Meta(gt=0, description="hours: warn when a filesystem is forecast full within this")
    ] = 24
    forecast_critical: Annotated[
        float,
        Meta(gt=0, description="hours: critical when a filesystem is forecast full within this"),
    ] = 4
    forecast_window: Annotated[
        float, Meta(gt=0, le=168, description="hours of usage history kept and fitted")
    ] = 24
    forecast_min_span: Annotated[
        float, Meta(gt=0, description="hours of history needed before forecasting")
    ] = 0.5
    forecast_min_samples: Annotated[
        int, Meta(ge=3, description="samples needed before forecasting")
    ] = 5

    def __post_init__(self) -> None:
        _check_order(self.warning, self.critical, "")
        _check_order(self.inodes_warning, self.inodes_critical, "inodes_")
        if self.forecast_critical > self.forecast_warning:
            raise ValueError(
                f"forecast_critical ({self.forecast_critical:g} h) must not exceed "
                f"forecast_warning ({self.forecast_warning:g} h)"
            )
        if self.forecast_min_span >= self.forecast_window:
            raise ValueError(
                f"forecast_min_span ({self.forecast_min_span:g} h) must be shorter than "
                f"forecast_window ({self.forecast_window:g} h)"
            )


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
class Forecast:
    """Where a filesystem's free space is heading, fitted from recent samples."""

    hours_to_full: float
    bytes_per_hour: float  # growth of used space
    samples: int
    span_hours: float


@dataclass(frozen=True)
class MountVerdict:
    usage: MountUsage
    status: Status
    reason: str
    forecast: Forecast | None = None


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
    override = options.mounts.get(usage.mount.mountpoint) or MountThresholds()
    # fmt: off
    limits = [
        ("", usage.used_pct, override.warning, options.warning,
         override.critical, options.critical),
        ("inodes ", usage.inodes_used_pct, override.inodes_warning, options.inodes_warning,
         override.inodes_critical, options.inodes_critical),
    ]
    # fmt: on
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
        # History lives in the agent's state folder; a run without one (an ad-hoc run, a
        # test) would share a temporary folder with unrelated runs, so it does not forecast.
        if self.options.forecast and self.context.state_dir is not None:
            verdicts = self._with_forecasts(verdicts, keep=set(unreadable))
        return summarise(verdicts, unreadable)

    def _with_forecasts(self, verdicts: list[MountVerdict], keep: set[str]) -> list[MountVerdict]:
        """Record this run's samples in the state and judge each mount's forecast."""
        now = self.context.now().timestamp()
        stored = self.state.load().get("forecast")
        if not isinstance(stored, dict):
            stored = {}
        history: dict[str, dict[str, object]] = {
            point: entry for point, entry in stored.items() if point in keep
        }
        judged = []
        for verdict in verdicts:
            usage = verdict.usage
            point = usage.mount.mountpoint
            samples = record_sample(
                stored.get(point), now, usage, self.options.forecast_window * 3600
            )
            history[point] = {"total": usage.total_bytes, "samples": samples}
            forecast = fit_forecast(samples, usage.free_bytes, usage.total_bytes, self.options)
            judged.append(judge_forecast(verdict, forecast, self.options))
        self.state.save({"forecast": history})
        return judged


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
        soonest = min(
            (v for v in verdicts if v.forecast is not None),
            key=lambda v: v.forecast.hours_to_full if v.forecast else 0.0,
            default=None,
        )
        if soonest is not None and soonest.forecast is not None:
            summary += (
                f"; soonest full: {soonest.usage.mount.mountpoint} in "
                f"~{format_hours(soonest.forecast.hours_to_full)}"
            )
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
        if verdict.forecast is not None:
            metrics[f"{point} growth_bytes_per_hour"] = round(verdict.forecast.bytes_per_hour)
            metrics[f"{point} hours_to_full"] = round(verdict.forecast.hours_to_full, 2)
            mounts[point]["forecast"] = {
                "hours_to_full": round(verdict.forecast.hours_to_full, 2),
                "bytes_per_hour": round(verdict.forecast.bytes_per_hour),
                "samples": verdict.forecast.samples,
                "span_hours": round(verdict.forecast.span_hours, 2),
            }
    return CheckResult(worst.status, summary, metrics, {"mounts": mounts, "unreadable": unreadable})


# --- growth forecast -------------------------------------------------------------------

#: A fall in used space larger than this share of the filesystem between two samples is a
#: clean-up: the trend before it says nothing about the growth after it.
CLEANUP_FRACTION = 0.01
#: Samples kept per mount at most, whatever the interval (bounds the state file).
MAX_SAMPLES = 2000


def record_sample(
    entry: object, now: float, usage: MountUsage, window_s: float
) -> list[list[float]]:
    """The mount's stored samples ``[[epoch, free_bytes], ...]`` with this run's appended.

    Samples outside the window, from the future (the clock went back) or of a
    filesystem of another size (resized, or another device mounted there) are dropped.
    """
    samples: list[list[float]] = []
    if isinstance(entry, dict) and entry.get("total") == usage.total_bytes:
        for sample in entry.get("samples", []):
            if (
                isinstance(sample, list)
                and len(sample) == 2
                and all(isinstance(v, int | float) for v in sample)
                and now - window_s <= sample[0] < now
            ):
                samples.append([float(sample[0]), float(sample[1])])
    samples.sort(key=lambda s: s[0])
    samples.append([now, float(usage.free_bytes)])
    return samples[-MAX_SAMPLES:]


def since_cleanup(samples: Sequence[Sequence[float]], total_bytes: float) -> list[Sequence[float]]:
    """The samples after the last clean-up (free space jumping up by more than 1 %)."""
    start = 0
    for i in range(1, len(samples)):
        if samples[i][1] - samples[i - 1][1] > CLEANUP_FRACTION * total_bytes:
            start = i
    return list(samples[start:])


def fit_forecast(
    samples: Sequence[Sequence[float]],
    free_bytes: float,
    total_bytes: float,
    options: DiskOptions,
) -> Forecast | None:
    """When free space reaches zero at the fitted rate; None without enough growing history.

    ``samples`` are ``(epoch seconds, free bytes)`` pairs, oldest first. A least-squares
    line through the samples since the last clean-up gives the rate; the current free
    space divided by it gives the time left.
    """
    samples = since_cleanup(samples, total_bytes)
    if len(samples) < options.forecast_min_samples:
        return None
    times = [s[0] for s in samples]
    span_hours = (times[-1] - times[0]) / 3600
    if span_hours < options.forecast_min_span:
        return None
    slope = _slope(times, [s[1] for s in samples])  # free bytes per second
    if slope is None or slope >= 0:
        return None
    rate = -slope * 3600  # used bytes per hour
    return Forecast(
        hours_to_full=max(free_bytes, 0) / rate,
        bytes_per_hour=rate,
        samples=len(samples),
        span_hours=span_hours,
    )


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    return slope if math.isfinite(slope) else None


def forecast_status(forecast: Forecast | None, options: DiskOptions) -> Status:
    """The status a forecast alone deserves."""
    if forecast is None:
        return Status.OK
    if forecast.hours_to_full <= options.forecast_critical:
        return Status.CRITICAL
    if forecast.hours_to_full <= options.forecast_warning:
        return Status.WARNING
    return Status.OK


def judge_forecast(
    verdict: MountVerdict, forecast: Forecast | None, options: DiskOptions
) -> MountVerdict:
    """The mount's verdict with its forecast: the worse of both, both reasons when it matters."""
    status = forecast_status(forecast, options)
    if forecast is None or status is Status.OK:
        return MountVerdict(verdict.usage, verdict.status, verdict.reason, forecast)
    point = verdict.usage.mount.mountpoint
    text = (
        f"{point} full in ~{format_hours(forecast.hours_to_full)} "
        f"at {format_bytes(forecast.bytes_per_hour)}/h"
    )
    if verdict.status is Status.OK:
        return MountVerdict(verdict.usage, status, text, forecast)
    worst = Status.worst([status, verdict.status])
    return MountVerdict(verdict.usage, worst, f"{verdict.reason}; {text}", forecast)


def format_hours(hours: float) -> str:
    """A duration for a person: 25min, 3h, 2d."""
    if hours * 60 < 1:
        return "<1min"
    if hours < 1:
        return f"{round(hours * 60)}min"
    if hours < 48:
        return f"{round(hours)}h"
    return f"{round(hours / 24)}d"


def format_bytes(count: float) -> str:
    """A byte count in decimal units, one decimal: 2.1 GB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
