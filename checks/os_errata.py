"""os_errata: pending (security) updates, how long they have waited, and reboots needed.

Reads what the package manager would install without changing anything: apt's
simulation (``apt-get -s dist-upgrade``) on Debian/Ubuntu, ``dnf updateinfo`` and
``dnf check-update`` on RHEL and Fedora. Indexes are refreshed only when asked
(``refresh = true``)::

    [checks.os_errata]
    interval = 3600
    security_critical_days = 14
    critical_severities = ["Critical", "Important"]

How long a security update has been pending is a lower bound: dnf advisories
carry their date; for apt it is the earlier of the ``Date`` of the Release file
that lists the update and the first run of this check that saw it (kept in the
check's state). See docs/checks/os_errata.md for the limits of that estimate.

A reboot is required when ``/var/run/reboot-required`` exists (Debian, Ubuntu),
``dnf needs-restarting -r`` says so (RHEL), or the newest kernel installed in
``/boot`` or ``/lib/modules`` is newer than the running one.
"""

from __future__ import annotations

import platform
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from . import errata_apt, errata_dnf
from .base import Check, CheckOptions
from .commands import run_command
from .errors import CheckFailed
from .options import Meta
from .options import field as option_field
from .result import CheckResult, Status

__all__ = [
    "OsErrataCheck",
    "OsErrataOptions",
    "PendingUpdate",
    "RebootInfo",
    "Survey",
    "compare_versions",
    "judge",
    "kernel_reboot_reason",
]

Severity = Literal["Critical", "Important", "Moderate", "Low", "Unknown"]
_DAY_S = 86400.0
_CRITICAL_BY_DEFAULT: tuple[Severity, ...] = ("Critical", "Important")


class OsErrataOptions(CheckOptions):
    """Options of the os_errata check."""

    manager: Annotated[
        Literal["auto", "apt", "dnf"],
        Meta(description="package manager; auto: apt when apt-get is found, else dnf"),
    ] = "auto"
    refresh: Annotated[
        bool, Meta(description="refresh the indexes first (apt-get update / dnf --refresh)")
    ] = False
    command_timeout: Annotated[
        float, Meta(gt=0, description="seconds each package-manager command may take")
    ] = 60
    security_warning: Annotated[
        int, Meta(ge=1, description="pending security updates that make the check WARNING")
    ] = 1
    security_critical_days: Annotated[
        float,
        Meta(gt=0, description="a security update pending longer than this many days is CRITICAL"),
    ] = 14
    critical_severities: Annotated[
        list[Severity],
        Meta(description="advisory severities (dnf) that make a pending security update CRITICAL"),
    ] = option_field(default_factory=lambda: list(_CRITICAL_BY_DEFAULT))
    updates_warning: (
        Annotated[
            int, Meta(ge=1, description="pending updates of any kind that warn (default: never)")
        ]
        | None
    ) = None
    reboot_status: Annotated[
        Literal["OK", "WARNING", "CRITICAL"], Meta(description="status when a reboot is required")
    ] = "WARNING"
    # apt
    apt_get: Annotated[str, Meta(description="apt-get command")] = "apt-get"
    apt_config: Annotated[str, Meta(description="apt-config command (finds apt's lists)")] = (
        "apt-config"
    )
    apt_options: Annotated[
        list[str], Meta(description="extra arguments for every apt call (-o Dir::...=...)")
    ] = option_field(default_factory=list)
    apt_mode: Annotated[
        Literal["dist-upgrade", "upgrade"], Meta(description="which apt upgrade to simulate")
    ] = "dist-upgrade"
    security_suites: Annotated[
        list[str],
        Meta(
            min_length=1,
            description="suite name endings that mark an apt origin as a security update",
        ),
    ] = option_field(default_factory=lambda: ["-security"])
    # dnf
    dnf: Annotated[str, Meta(description="dnf command (or yum on EL8+)")] = "dnf"
    dnf_options: Annotated[list[str], Meta(description="extra arguments for every dnf call")] = (
        option_field(default_factory=list)
    )
    installroot: Annotated[Path, Meta(description="dnf --installroot")] | None = None
    needs_restarting: Annotated[
        bool, Meta(description="on dnf hosts, ask `dnf needs-restarting -r` (dnf-plugins-core)")
    ] = True
    # reboot
    reboot_required_file: Annotated[Path, Meta(description="Debian's reboot flag (+ .pkgs)")] = (
        Path("/var/run/reboot-required")
    )
    boot_dir: Annotated[Path, Meta(description="where vmlinuz-VERSION files are")] = Path("/boot")
    modules_dir: Annotated[Path, Meta(description="one folder per installed kernel")] = Path(
        "/lib/modules"
    )
    running_kernel: (
        Annotated[str, Meta(description="running kernel release (default: uname -r)")] | None
    ) = None


@dataclass(frozen=True)
class PendingUpdate:
    """One package the package manager would update."""

    package: str
    candidate: str
    installed: str | None = None
    source: str = ""  # apt suites or dnf repository
    security: bool = False
    severity: str | None = None  # dnf advisories only
    advisories: tuple[str, ...] = ()
    published_by: datetime | None = None  # available no later than this (index or advisory date)

    @property
    def key(self) -> str:
        return f"{self.package} {self.candidate}"


@dataclass(frozen=True)
class RebootInfo:
    """Whether the host needs a reboot and what says so."""

    required: bool = False
    reasons: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # sources that could not be asked


@dataclass(frozen=True)
class Survey:
    """What the package manager reported, ready for :func:`judge`."""

    manager: str
    updates: tuple[PendingUpdate, ...]
    ages_days: dict[str, float] = field(default_factory=dict)  # security update key -> age
    ignored_repos: tuple[str, ...] = ()
    removals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    status: Status
    summary: str


def judge(survey: Survey, reboot: RebootInfo, options: OsErrataOptions) -> Verdict:
    """The status of the host's errata and the summary that says why."""
    security = [u for u in survey.updates if u.security]
    statuses = [Status.OK]
    parts: list[str] = []
    if security:
        text = f"{len(security)} security update{'s' if len(security) != 1 else ''} pending"
        notes = []
        oldest = max((survey.ages_days.get(u.key, 0.0) for u in security), default=0.0)
        severe = sorted(
            {u.severity for u in security if u.severity in options.critical_severities},
            key=errata_dnf.SEVERITIES.index,
        )
        if oldest > options.security_critical_days:
            statuses.append(Status.CRITICAL)
            notes.append(
                f"oldest {oldest:.0f} days, critical after {options.security_critical_days:g}"
            )
        elif survey.ages_days:
            notes.append(f"oldest {oldest:.0f} days")
        if severe:
            statuses.append(Status.CRITICAL)
            counts = [f"{sum(u.severity == s for u in security)} {s}" for s in severe]
            notes.append(", ".join(counts))
        if len(security) >= options.security_warning:
            statuses.append(Status.WARNING)
        if notes:
            text += f" ({'; '.join(notes)})"
        parts.append(text)
    else:
        parts.append("no security updates pending")
    total = len(survey.updates)
    if options.updates_warning is not None and total >= options.updates_warning:
        statuses.append(Status.WARNING)
        parts.append(f"{total} updates pending (warning at {options.updates_warning})")
    else:
        parts.append(f"{total} update{'s' if total != 1 else ''} pending in all")
    if reboot.required:
        statuses.append(Status.from_name(options.reboot_status))
        parts.append(f"reboot required ({'; '.join(reboot.reasons)})")
    if survey.ignored_repos:
        statuses.append(Status.UNKNOWN)
        parts.append(f"repositories not readable: {', '.join(survey.ignored_repos)}")
    return Verdict(Status.worst(statuses), "; ".join(parts))


# -- versions and kernels -----------------------------------------------------------------

_SEGMENT = re.compile(r"\d+|[A-Za-z]+")


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two version strings segment by segment (rpmvercmp's rule).

    Numbers compare as numbers and beat letters; separators only split segments.
    Good enough for kernel releases (``6.1.0-21-amd64``, ``5.14.0-362.8.1.el9_3.x86_64``).
    """
    a, b = _SEGMENT.findall(left), _SEGMENT.findall(right)
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def installed_kernels(boot_dir: Path, modules_dir: Path) -> list[str]:
    """Kernel releases installed: ``/boot/vmlinuz-*`` and the folders of ``/lib/modules``."""
    found: set[str] = set()
    if boot_dir.is_dir():
        found.update(p.name.removeprefix("vmlinuz-") for p in boot_dir.glob("vmlinuz-*"))
    if modules_dir.is_dir():
        found.update(p.name for p in modules_dir.iterdir() if p.is_dir())
    return sorted(found)


def kernel_reboot_reason(running: str, installed: list[str]) -> str | None:
    """Why a reboot is due when a newer kernel than ``running`` is installed, else None."""
    if not installed:
        return None  # containers and VMs booted from an outside kernel install none
    newest = installed[0]
    for release in installed[1:]:
        if compare_versions(release, newest) > 0:
            newest = release
    if compare_versions(newest, running) > 0:
        return f"running kernel {running}, newest installed {newest}"
    return None


# -- the check ----------------------------------------------------------------------------


class OsErrataCheck(Check[OsErrataOptions]):
    """Pending security updates (apt or dnf), their age and severity, and reboots needed."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 3600

    options_model = OsErrataOptions
    description = "pending security updates, their age, and reboots required"

    def run(self) -> CheckResult:
        manager = self._manager()
        survey = self._survey_apt() if manager == "apt" else self._survey_dnf()
        survey = self._with_ages(survey)
        reboot = self._reboot(manager)
        verdict = judge(survey, reboot, self.options)
        return CheckResult(
            verdict.status, verdict.summary, _metrics(survey, reboot), _details(survey, reboot)
        )

    def _manager(self) -> str:
        if self.options.manager != "auto":
            return self.options.manager
        if shutil.which(self.options.apt_get):
            return "apt"
        if shutil.which(self.options.dnf):
            return "dnf"
        raise CheckFailed(
            f"no package manager found (neither {self.options.apt_get} nor {self.options.dnf})"
        )

    def _survey_apt(self) -> Survey:
        opts, timeout = self.options, self.options.command_timeout
        if opts.refresh:
            errata_apt.run_apt(opts.apt_get, opts.apt_options, ["-q", "update"], timeout)
        output = errata_apt.run_apt(
            opts.apt_get, opts.apt_options, ["-s", "-q", opts.apt_mode], timeout
        )
        raw, removals = errata_apt.parse_simulation(output)
        lists_dir = errata_apt.apt_lists_dir(opts.apt_config, opts.apt_options, timeout)
        releases = errata_apt.read_releases(lists_dir)
        if not releases:  # never updated: "no updates" would be a blind spot, not a fact
            raise CheckFailed(
                f"apt has no package indexes in {lists_dir}; run apt-get update "
                "or set refresh = true"
            )
        updates = tuple(
            PendingUpdate(
                package=u.package,
                candidate=u.candidate,
                installed=u.installed,
                source=", ".join(u.archives),
                security=errata_apt.is_security(u, opts.security_suites),
                published_by=errata_apt.release_date_for(u, releases),
            )
            for u in raw
            if u.installed is not None  # new packages pulled in are not updates of their own
        )
        return Survey("apt", updates, removals=tuple(removals))

    def _dnf_prefix(self, refresh: bool | None = None) -> list[str]:
        """dnf and its options; ``refresh=False`` leaves metadata alone without demanding it."""
        prefix = [self.options.dnf, "--assumeno"]  # never import a key or change anything
        if self.options.installroot is not None:
            prefix.append(f"--installroot={self.options.installroot}")
        if refresh is None:
            prefix.append("--refresh" if self.options.refresh else "--cacheonly")
        return [*prefix, *self.options.dnf_options]

    def _survey_dnf(self) -> Survey:
        prefix, timeout = self._dnf_prefix(), self.options.command_timeout
        listed = errata_dnf.run_dnf(prefix, ["updateinfo", "list", "--security"], timeout)
        info = errata_dnf.run_dnf(prefix, ["updateinfo", "info", "--security"], timeout)
        pending = errata_dnf.run_dnf(prefix, ["check-update"], timeout, ok_codes=(0, 100))
        advisories = errata_dnf.parse_security_list(listed.stdout)
        dates = errata_dnf.parse_advisory_dates(info.stdout)
        by_package: dict[str, list[errata_dnf.Advisory]] = {}
        for advisory in advisories:
            by_package.setdefault(advisory.package, []).append(advisory)
        updates = []
        for u in errata_dnf.parse_check_update(pending.stdout):
            fixes = by_package.get(u.package, [])
            published = [dates[a.advisory] for a in fixes if a.advisory in dates]
            updates.append(
                PendingUpdate(
                    package=u.package,
                    candidate=u.candidate,
                    source=u.repo,
                    security=bool(fixes),
                    severity=min(
                        (a.severity for a in fixes), key=errata_dnf.SEVERITIES.index, default=None
                    ),
                    advisories=tuple(sorted({a.advisory for a in fixes})),
                    published_by=min(published, default=None),
                )
            )
        ignored = errata_dnf.ignored_repositories(listed.stderr + info.stderr + pending.stderr)
        return Survey("dnf", tuple(updates), ignored_repos=tuple(ignored))

    def _with_ages(self, survey: Survey) -> Survey:
        """Age each security update from its index date and the first run that saw it."""
        now = self.context.now()
        stored = self.state.load().get("first_seen", {})
        first_seen: dict[str, str] = {}
        ages: dict[str, float] = {}
        for update in survey.updates:
            if not update.security:
                continue
            seen = _parse_iso(stored.get(update.key)) or now
            first_seen[update.key] = seen.isoformat()
            since = min(seen, update.published_by or seen)
            ages[update.key] = max(0.0, (now - since).total_seconds() / _DAY_S)
        self.state.save({"first_seen": first_seen})  # forget updates no longer pending
        return Survey(survey.manager, survey.updates, ages, survey.ignored_repos, survey.removals)

    def _reboot(self, manager: str) -> RebootInfo:
        reasons: list[str] = []
        packages: list[str] = []
        notes: list[str] = []
        flag = self.options.reboot_required_file
        if flag.exists():
            reasons.append(f"{flag} exists")
            pkgs = flag.with_name(flag.name + ".pkgs")
            if pkgs.exists():
                packages = sorted({p.strip() for p in pkgs.read_text().splitlines() if p.strip()})
        if manager == "dnf" and self.options.needs_restarting:
            argv = [*self._dnf_prefix(refresh=False), "needs-restarting", "-r"]
            try:
                out = run_command(argv, timeout=self.options.command_timeout)
            except CheckFailed as exc:
                notes.append(str(exc))
            else:
                required, core, note = errata_dnf.parse_needs_restarting(
                    out.returncode, out.stdout, out.stderr
                )
                if required:
                    reasons.append(f"dnf needs-restarting: updated since boot: {', '.join(core)}")
                    packages = sorted({*packages, *core})
                if note:
                    notes.append(note)
        running = self.options.running_kernel or platform.release()
        kernels = installed_kernels(self.options.boot_dir, self.options.modules_dir)
        if reason := kernel_reboot_reason(running, kernels):
            reasons.append(reason)
        return RebootInfo(bool(reasons), tuple(reasons), tuple(packages), tuple(notes))


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _metrics(survey: Survey, reboot: RebootInfo) -> dict[str, float]:
    security = [u for u in survey.updates if u.security]
    metrics: dict[str, float] = {
        "updates": len(survey.updates),
        "security_updates": len(security),
        "reboot_required": int(reboot.required),
    }
    if survey.ages_days:
        metrics["oldest_security_days"] = round(max(survey.ages_days.values()), 2)
    for severity in errata_dnf.SEVERITIES:
        count = sum(u.severity == severity for u in security)
        if count:
            metrics[f"security_{severity.lower()}"] = count
    return metrics


def _details(survey: Survey, reboot: RebootInfo) -> dict[str, Any]:
    def row(u: PendingUpdate) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "package": u.package,
            "installed": u.installed,
            "candidate": u.candidate,
            "source": u.source,
        }
        if u.severity:
            entry["severity"] = u.severity
        if u.advisories:
            entry["advisories"] = list(u.advisories)
        if u.key in survey.ages_days:
            entry["pending_days"] = round(survey.ages_days[u.key], 2)
        return entry

    return {
        "manager": survey.manager,
        "security_updates": [row(u) for u in survey.updates if u.security],
        "other_updates": [row(u) for u in survey.updates if not u.security],
        "removals": list(survey.removals),
        "ignored_repositories": list(survey.ignored_repos),
        "reboot": {
            "required": reboot.required,
            "reasons": list(reboot.reasons),
            "packages": list(reboot.packages),
            "not_asked": list(reboot.notes),
        },
    }
