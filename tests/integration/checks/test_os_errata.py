"""os_errata against real apt and real dnf, on private repositories and this machine's apt.

apt: .debs built by dpkg-deb, indexed by dpkg-scanpackages, with Release files by
apt-ftparchive (one suite ``pcm-security``, one ``pcm-updates``); apt-get runs
with private sources, lists, cache and dpkg status file, so the machine never
changes. dnf: rpmbuild packages, createrepo_c repositories with updateinfo, and
a private ``--installroot`` (tests/support/rpm_repo.py). The clock is the only
thing faked, through the check's context.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portacare.checks.base import CheckContext
from portacare.checks.os_errata import OsErrataCheck
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support import rpm_repo
from tests.support.rpm_repo import Advisory, RpmWorld
from tests.support.services import require_tool

pytestmark = pytest.mark.integration

# The RPM fixtures, used by name below.
rpm_packages = rpm_repo.rpm_packages
rpm_world = rpm_repo.rpm_world

DEBS = {"pcm-demo": ["1.0", "1.1"], "pcm-tools": ["2.0", "2.1"]}


def _run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    if done.returncode != 0:
        pytest.fail(f"{argv[0]} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


@dataclass(frozen=True)
class AptRepos:
    """Two flat apt repositories and a lists folder apt-get update filled from them."""

    base: Path
    sources: Path
    lists: Path
    generated: datetime  # the Date apt-ftparchive wrote into both Release files


def _apt_dirs(base: Path) -> dict[str, Path]:
    return {"parts": base / "sources.list.d", "prefs": base / "preferences.d"}


def private_apt_options(
    base: Path, sources: Path, lists: Path, status: Path, cache: Path
) -> list[str]:
    """apt options reading only the test's sources, lists and dpkg status file."""
    dirs = _apt_dirs(base)
    return [
        "-o", f"Dir::Etc::SourceList={sources}",
        "-o", f"Dir::Etc::SourceParts={dirs['parts']}",
        "-o", f"Dir::Etc::PreferencesParts={dirs['prefs']}",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::State::status={status}",
        "-o", f"Dir::State::extended_states={base / 'extended_states'}",
        "-o", f"Dir::Cache={cache}",
        # the repositories live in pytest's private temp folder, unreadable to _apt
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def apt_repos(tmp_path_factory: pytest.TempPathFactory) -> AptRepos:
    dpkg_deb = require_tool("dpkg-deb", "dpkg")
    scan = require_tool("dpkg-scanpackages", "dpkg-dev")
    ftparchive = require_tool("apt-ftparchive", "apt-utils")
    apt_get = require_tool("apt-get", "apt")
    base = tmp_path_factory.mktemp("apt")
    for name, versions in DEBS.items():
        for version in versions:
            root = base / "build" / f"{name}_{version}"
            (root / "DEBIAN").mkdir(parents=True)
            (root / "DEBIAN" / "control").write_text(
                f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
                "Maintainer: PortaCare tests <tests@example.net>\nDescription: test package\n"
            )
            repo = base / ("security" if name == "pcm-demo" else "updates")
            repo.mkdir(exist_ok=True)
            if version == versions[-1]:  # only the newer version is published
                _run([dpkg_deb, "--root-owner-group", "--build", str(root), str(repo)])
    generated = datetime.now(UTC).replace(microsecond=0)
    for suite in ("security", "updates"):
        repo = base / suite
        (repo / "Packages").write_text(_run([scan, "--multiversion", "."], cwd=repo))
        release = _run(
            [
                ftparchive,
                "-o",
                f"APT::FTPArchive::Release::Suite=pcm-{suite}",
                "-o",
                f"APT::FTPArchive::Release::Codename=pcm-{suite}",
                "-o",
                "APT::FTPArchive::Release::Label=PortaCare",
                "-o",
                f"APT::FTPArchive::Release::Date={generated:%a, %d %b %Y %H:%M:%S +0000}",
                "release",
                ".",
            ],  # fmt: skip
            cwd=repo,
        )
        (repo / "Release").write_text(release)
    sources = base / "sources.list"
    sources.write_text(
        f"deb [trusted=yes] file:{base / 'security'} ./\n"
        f"deb [trusted=yes] file:{base / 'updates'} ./\n"
    )
    for folder in _apt_dirs(base).values():
        folder.mkdir()
    lists = base / "lists"
    (lists / "partial").mkdir(parents=True)
    status = base / "empty-status"
    status.write_text("")
    options = private_apt_options(base, sources, lists, status, base / "cache")
    _run([apt_get, "-q", *options, "update"])
    return AptRepos(base, sources, lists, generated)


def dpkg_status(path: Path, installed: dict[str, str]) -> Path:
    """A dpkg status file saying ``installed`` packages are installed."""
    path.write_text(
        "".join(
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Section: misc\nMaintainer: t <t@example.net>\nArchitecture: all\n"
            f"Version: {version}\nDescription: test package\n\n"
            for name, version in installed.items()
        )
    )
    return path


@pytest.fixture
def apt_check(apt_repos: AptRepos, tmp_path: Path) -> Callable[..., CheckResult]:
    """Run os_errata on the test repositories with ``installed`` in the dpkg status."""

    def run(
        installed: dict[str, str],
        now: datetime | None = None,
        state_dir: Path | None = None,
        sources: Path | None = None,
        lists: Path | None = None,
        **options: object,
    ) -> CheckResult:
        status = dpkg_status(tmp_path / "status", installed)
        apt_options = private_apt_options(
            apt_repos.base,
            sources or apt_repos.sources,
            lists or apt_repos.lists,
            status,
            tmp_path / "cache",
        )
        raw = {
            "manager": "apt",
            "apt_options": apt_options,
            "reboot_required_file": str(tmp_path / "no-reboot-required"),
            "boot_dir": str(tmp_path / "no-boot"),
            "modules_dir": str(tmp_path / "no-modules"),
            **options,
        }
        context = CheckContext(
            hostname="test",
            state_dir=state_dir or tmp_path / "state",
            now=(lambda: now) if now else (lambda: datetime.now(UTC)),
        )
        return run_check(OsErrataCheck.from_config(raw, context), timeout=60)

    return run


# -- apt on this machine, as it is --------------------------------------------------------


def _machine_simulation(apt_get: str) -> list[str]:
    """The Inst lines of this machine's own apt-get -s dist-upgrade."""
    done = subprocess.run(
        [apt_get, "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        capture_output=True, text=True, check=False, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if line.startswith("Inst ")]


def test_machine_apt_every_pending_update_is_parsed(tmp_path: Path) -> None:
    """Whatever this machine's apt finds is counted: every upgrade, every -security one.

    Other people may install packages or refresh indexes meanwhile, so the check's
    run is compared with simulations taken just before and after it, and retried
    when those two differ.
    """
    apt_get = require_tool("apt-get", "apt")
    context = CheckContext(hostname="test", state_dir=tmp_path)
    check = OsErrataCheck.from_config(
        {
            "reboot_required_file": str(tmp_path / "none"),
            "boot_dir": str(tmp_path),
            "modules_dir": str(tmp_path),
        },
        context,
    )
    for _ in range(5):
        before = _machine_simulation(apt_get)
        result = run_check(check, timeout=60)
        if before == _machine_simulation(apt_get):
            break
    upgrades = [line for line in before if " [" in line.split("(")[0]]
    security = [line for line in upgrades if "-security" in line.split("(", 1)[1]]
    assert result.details["manager"] == "apt"
    assert result.metrics["updates"] == len(upgrades), result.summary
    assert result.metrics["security_updates"] == len(security)
    listed = result.details["security_updates"] + result.details["other_updates"]
    assert sorted(u["package"] for u in listed) == sorted(line.split()[1] for line in upgrades)
    if security:
        assert result.status in (Status.WARNING, Status.CRITICAL)
        assert f"{len(security)} security update" in result.summary
    else:
        assert result.status is Status.OK
        assert "no security updates pending" in result.summary


# -- apt on the test's repositories -------------------------------------------------------


def test_apt_up_to_date_is_ok(apt_check: Callable[..., CheckResult]) -> None:
    result = apt_check({"pcm-demo": "1.1", "pcm-tools": "2.1"})
    assert result.status is Status.OK
    assert result.summary == "no security updates pending; 0 updates pending in all"


def test_apt_only_ordinary_updates_is_ok(apt_check: Callable[..., CheckResult]) -> None:
    result = apt_check({"pcm-demo": "1.1", "pcm-tools": "2.0"})
    assert result.status is Status.OK
    assert result.summary == "no security updates pending; 1 update pending in all"
    assert result.details["other_updates"][0]["source"] == "pcm-updates"


def test_apt_fresh_security_update_warns(apt_check: Callable[..., CheckResult]) -> None:
    result = apt_check({"pcm-demo": "1.0", "pcm-tools": "2.0"})
    assert result.status is Status.WARNING
    assert result.summary.startswith("1 security update pending (oldest 0 days)")
    assert "2 updates pending in all" in result.summary
    (row,) = result.details["security_updates"]
    assert row["package"] == "pcm-demo"
    assert (row["installed"], row["candidate"], row["source"]) == ("1.0", "1.1", "pcm-security")
    assert result.metrics["security_updates"] == 1


def test_apt_upgrade_mode_sees_the_same(apt_check: Callable[..., CheckResult]) -> None:
    result = apt_check({"pcm-demo": "1.0"}, apt_mode="upgrade")
    assert result.status is Status.WARNING
    assert result.metrics == {
        "updates": 1, "security_updates": 1, "reboot_required": 0,
        "oldest_security_days": result.metrics["oldest_security_days"],
    }  # fmt: skip


def test_apt_security_update_older_than_release_date_allows_is_critical(
    apt_check: Callable[..., CheckResult], apt_repos: AptRepos
) -> None:
    later = apt_repos.generated + timedelta(days=20)
    result = apt_check({"pcm-demo": "1.0"}, now=later)
    assert result.status is Status.CRITICAL
    assert "oldest 20 days, critical after 14" in result.summary


def test_apt_age_remembered_from_first_sighting(
    apt_check: Callable[..., CheckResult], apt_repos: AptRepos, tmp_path: Path
) -> None:
    """The Release Date says 1 day; the check saw the update 31 days ago: CRITICAL."""
    state = tmp_path / "remembered"
    first = apt_check({"pcm-demo": "1.0"}, now=apt_repos.generated - timedelta(days=30),
                      state_dir=state)  # fmt: skip
    assert first.status is Status.WARNING
    fresh_state = apt_check({"pcm-demo": "1.0"}, now=apt_repos.generated + timedelta(days=1))
    assert fresh_state.status is Status.WARNING
    remembered = apt_check({"pcm-demo": "1.0"}, now=apt_repos.generated + timedelta(days=1),
                           state_dir=state)  # fmt: skip
    assert remembered.status is Status.CRITICAL
    assert "oldest 31 days" in remembered.summary


def test_apt_broken_sources_is_unknown(
    apt_check: Callable[..., CheckResult], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.list"
    bad.write_text("deb this-is-not-a-source\n")
    result = apt_check({"pcm-demo": "1.0"}, sources=bad)
    assert result.status is Status.UNKNOWN
    assert "Malformed entry 1 in list file" in result.summary


def test_apt_without_indexes_is_unknown_then_refresh_fills_them(
    apt_check: Callable[..., CheckResult], tmp_path: Path
) -> None:
    lists = tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    blind = apt_check({"pcm-demo": "1.0"}, lists=lists)
    assert blind.status is Status.UNKNOWN
    assert "no package indexes" in blind.summary
    refreshed = apt_check({"pcm-demo": "1.0"}, lists=lists, refresh=True)
    assert refreshed.status is Status.WARNING
    assert refreshed.metrics["security_updates"] == 1
    assert any(lists.glob("*Release"))


def test_apt_reboot_flag_and_newer_kernel(
    apt_check: Callable[..., CheckResult], tmp_path: Path
) -> None:
    flag = tmp_path / "reboot-required"
    flag.write_text("*** System restart required ***\n")
    flag.with_name("reboot-required.pkgs").write_text("libc6\nlinux-image-amd64\nlibc6\n")
    boot = tmp_path / "boot"
    boot.mkdir()
    for release in ("6.1.0-18-amd64", "6.1.0-21-amd64"):
        (boot / f"vmlinuz-{release}").write_bytes(b"")
    result = apt_check(
        {"pcm-demo": "1.1", "pcm-tools": "2.1"},
        reboot_required_file=str(flag),
        boot_dir=str(boot),
        running_kernel="6.1.0-18-amd64",
    )
    assert result.status is Status.WARNING
    assert "reboot required" in result.summary
    assert "running kernel 6.1.0-18-amd64, newest installed 6.1.0-21-amd64" in result.summary
    assert result.details["reboot"]["packages"] == ["libc6", "linux-image-amd64"]
    critical = apt_check({"pcm-demo": "1.1"}, reboot_required_file=str(flag),
                         reboot_status="CRITICAL")  # fmt: skip
    assert critical.status is Status.CRITICAL


# -- dnf on the test's repositories -------------------------------------------------------


def dnf_check(world: RpmWorld, tmp_path: Path, now: datetime | None = None, **options: object):
    raw = {
        "manager": "dnf",
        "installroot": str(world.root),
        "dnf_options": world.dnf_options,
        "refresh": True,
        "reboot_required_file": str(tmp_path / "no-reboot-required"),
        "boot_dir": str(tmp_path / "no-boot"),
        "modules_dir": str(tmp_path / "no-modules"),
        **options,
    }
    context = CheckContext(
        hostname="test",
        state_dir=tmp_path / "state",
        now=(lambda: now) if now else (lambda: datetime.now(UTC)),
    )
    return run_check(OsErrataCheck.from_config(raw, context), timeout=60)


RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def test_dnf_only_bugfix_update_is_ok(rpm_world: Callable[..., RpmWorld], tmp_path: Path) -> None:
    world = rpm_world(
        installed={"pcm-tools": "2.0"},
        repos={"base": [Advisory("PCM-BUG-1", "pcm-tools", "2.1", "Low", RECENT, "bugfix")]},
    )
    result = dnf_check(world, tmp_path)
    assert result.status is Status.OK
    assert result.summary == "no security updates pending; 1 update pending in all"
    assert result.details["other_updates"][0]["package"] == "pcm-tools"


def test_dnf_moderate_recent_advisory_warns(
    rpm_world: Callable[..., RpmWorld], tmp_path: Path
) -> None:
    world = rpm_world(
        installed={"pcm-lib": "3.0", "pcm-tools": "2.1"},
        repos={"sec": [Advisory("PCM-SA-2", "pcm-lib", "3.1", "Moderate", RECENT)]},
    )
    result = dnf_check(world, tmp_path)
    assert result.status is Status.WARNING
    assert result.summary.startswith("1 security update pending (oldest 2 days)")
    (row,) = result.details["security_updates"]
    assert (row["package"], row["severity"], row["advisories"]) == (
        "pcm-lib", "Moderate", ["PCM-SA-2"],
    )  # fmt: skip
    assert result.metrics["security_moderate"] == 1
    assert result.details["reboot"] == {
        "required": False, "reasons": [], "packages": [], "not_asked": [],
    }  # fmt: skip


def test_dnf_core_package_updated_since_boot_needs_reboot(
    rpm_world: Callable[..., RpmWorld], tmp_path: Path
) -> None:
    world = rpm_world(installed={"glibc": "9.9"}, repos={"base": [("pcm-demo", "1.1")]})
    result = dnf_check(world, tmp_path)
    assert result.status is Status.WARNING
    assert result.summary == (
        "no security updates pending; 0 updates pending in all; "
        "reboot required (dnf needs-restarting: updated since boot: glibc)"
    )
    assert result.details["reboot"]["packages"] == ["glibc"]
    assert result.metrics["reboot_required"] == 1
    ignored = dnf_check(world, tmp_path, needs_restarting=False)
    assert ignored.status is Status.OK


def test_dnf_important_advisory_is_critical(
    rpm_world: Callable[..., RpmWorld], tmp_path: Path
) -> None:
    world = rpm_world(
        installed={"pcm-demo": "1.0", "pcm-lib": "3.0"},
        repos={
            "sec": [
                Advisory("PCM-SA-1", "pcm-demo", "1.1", "Important", RECENT),
                Advisory("PCM-SA-2", "pcm-lib", "3.1", None, RECENT),
            ]
        },
    )
    result = dnf_check(world, tmp_path)
    assert result.status is Status.CRITICAL
    assert "2 security updates pending" in result.summary
    assert "1 Important" in result.summary
    assert result.metrics["security_important"] == 1
    assert result.metrics["security_unknown"] == 1


def test_dnf_old_advisory_is_critical_and_cache_is_used_without_refresh(
    rpm_world: Callable[..., RpmWorld], tmp_path: Path
) -> None:
    world = rpm_world(
        installed={"pcm-lib": "3.0"},
        repos={"sec": [Advisory("PCM-SA-3", "pcm-lib", "3.1", "Low", RECENT)]},
    )
    assert dnf_check(world, tmp_path).status is Status.WARNING  # fills dnf's cache
    later = datetime.now(UTC) + timedelta(days=15)
    result = dnf_check(world, tmp_path, now=later, refresh=False)
    assert result.status is Status.CRITICAL
    assert "oldest 17 days, critical after 14" in result.summary


def test_dnf_without_cache_is_unknown(rpm_world: Callable[..., RpmWorld], tmp_path: Path) -> None:
    world = rpm_world(
        installed={"pcm-lib": "3.0"},
        repos={"sec": [Advisory("PCM-SA-3", "pcm-lib", "3.1", "Low", RECENT)]},
    )
    result = dnf_check(world, tmp_path, refresh=False)
    assert result.status is Status.UNKNOWN
    assert "repositories not readable: sec" in result.summary


def test_dnf_without_repositories_is_unknown(
    rpm_world: Callable[..., RpmWorld], tmp_path: Path
) -> None:
    world = rpm_world(installed={"pcm-lib": "3.0"}, repos={})
    result = dnf_check(world, tmp_path)
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith("dnf check-update failed (exit 1)")
    assert "There are no enabled repositories" in result.summary
