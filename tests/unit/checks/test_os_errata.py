"""os_errata's parsers and decisions, on output captured from real apt and dnf runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portacare.checks import errata_apt, errata_dnf
from portacare.checks.errata_apt import AptUpdate, ReleaseInfo
from portacare.checks.options import OptionsError
from portacare.checks.os_errata import (
    OsErrataCheck,
    OsErrataOptions,
    PendingUpdate,
    RebootInfo,
    Survey,
    compare_versions,
    installed_kernels,
    judge,
    kernel_reboot_reason,
)
from portacare.checks.result import Status

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# -- apt ---------------------------------------------------------------------------------------

# Lines of `apt-get -s dist-upgrade` / `install` on Debian 12 (bookworm, now oldstable).
APT_SIMULATION = """\
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  base-files libexpat1 libssl3 e2fsprogs libglib2.0-0
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libexpat1 [2.5.0-1+deb12u1] (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
Inst libssl3 [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Inst e2fsprogs [1.47.0-2] (1.47.0-2+b2 Debian:12.15/oldstable [amd64]) [e2fsprogs:amd64 on libext2fs2:amd64] [e2fsprogs:amd64 ]
Inst libglib2.0-0 [2.74.6-2] (2.74.6-2+deb12u7 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst nginx (1.22.1-9+deb12u11 Debian-Security:12/oldstable-security [all])
Inst pcm-demo [1.0] (1.1 PortaCare:pcm-security [all])
Remv oldthing [0.9]
"""  # noqa: E501


def test_parse_simulation_reads_every_inst_and_remv_line() -> None:
    updates, removals = errata_apt.parse_simulation(APT_SIMULATION)
    assert [u.package for u in updates] == [
        "base-files", "libexpat1", "libssl3", "e2fsprogs", "libglib2.0-0", "nginx", "pcm-demo",
    ]  # fmt: skip
    assert removals == ["oldthing"]
    by_name = {u.package: u for u in updates}
    assert by_name["libssl3"] == AptUpdate(
        "libssl3", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2", ("oldstable-security",),
        ("Debian-Security",), "amd64",
    )  # fmt: skip
    assert by_name["libglib2.0-0"].archives == ("oldstable", "oldstable-security")
    assert by_name["e2fsprogs"].candidate == "1.47.0-2+b2"
    assert by_name["nginx"].installed is None
    assert by_name["pcm-demo"].archives == ("pcm-security",)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        pytest.param("Debian:12.15/oldstable", ("Debian", "oldstable"), id="label-version-suite"),
        pytest.param("PortaCare:pcm-security", ("PortaCare", "pcm-security"), id="no-version"),
        pytest.param("jammy-security", ("", "jammy-security"), id="suite-only"),
        pytest.param("Ubuntu:22.04/jammy-security", ("Ubuntu", "jammy-security"), id="ubuntu"),
    ],
)
def test_parse_origin(origin: str, expected: tuple[str, str]) -> None:
    assert errata_apt.parse_origin(origin) == expected


@pytest.mark.parametrize(
    ("archives", "suffixes", "expected"),
    [
        pytest.param(("oldstable-security",), ["-security"], True, id="debian-security"),
        pytest.param(("oldstable", "oldstable-security"), ["-security"], True, id="in-both"),
        pytest.param(("oldstable",), ["-security"], False, id="point-release"),
        pytest.param(("bookworm-updates",), ["-security"], False, id="updates"),
        pytest.param(("esm-apps",), ["-security", "esm-apps"], True, id="custom-suffix"),
    ],
)
def test_is_security(archives: tuple[str, ...], suffixes: list[str], expected: bool) -> None:
    update = AptUpdate("p", "1", "2", archives, ("",) * len(archives), "all")
    assert errata_apt.is_security(update, suffixes) is expected


INRELEASE = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Origin: Debian
Label: Debian-Security
Suite: oldstable-security
Version: 12
Codename: bookworm-security
Date: Wed, 25 Nov 2026 02:22:30 UTC
Valid-Until: Wed, 02 Dec 2026 02:22:30 UTC
SHA256:
 0123 123 main/binary-amd64/Packages
-----BEGIN PGP SIGNATURE-----
"""


def test_parse_release_reads_a_clear_signed_inrelease(tmp_path: Path) -> None:
    path = tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_InRelease"
    path.write_text(INRELEASE)
    info = errata_apt.parse_release(path)
    assert (info.label, info.suite, info.codename) == (
        "Debian-Security", "oldstable-security", "bookworm-security",
    )  # fmt: skip
    assert info.date == datetime(2026, 11, 25, 2, 22, 30, tzinfo=UTC)


def test_parse_release_without_date_uses_the_file_time(tmp_path: Path) -> None:
    path = tmp_path / "_srv_repo_._Release"
    path.write_text("Suite: pcm-security\nLabel: PortaCare\n")
    os.utime(path, (T0.timestamp(), T0.timestamp()))
    assert errata_apt.parse_release(path).date == T0


def _release(suite: str, label: str, date: datetime | None) -> ReleaseInfo:
    return ReleaseInfo(Path("/x"), label, suite, suite.replace("oldstable", "bookworm"), date)


RELEASES = [
    _release("oldstable", "Debian", T0 - timedelta(days=120)),
    _release("oldstable-security", "Debian-Security", T0 - timedelta(days=1)),
    _release("oldstable-security", "Mirror", T0 - timedelta(days=3)),
]


@pytest.mark.parametrize(
    ("archives", "labels", "expected"),
    [
        pytest.param(("oldstable-security",), ("Debian-Security",), T0 - timedelta(days=1),
                     id="label-and-suite"),
        pytest.param(("oldstable-security",), ("",), T0 - timedelta(days=1),
                     id="no-label-latest-wins"),
        pytest.param(("oldstable", "oldstable-security"), ("Debian", "Debian-Security"),
                     T0 - timedelta(days=1), id="two-suites-latest-wins"),
        pytest.param(("bookworm-security",), ("Debian-Security",), T0 - timedelta(days=1),
                     id="by-codename"),
        pytest.param(("elsewhere",), ("X",), None, id="unknown-suite"),
    ],
)  # fmt: skip
def test_release_date_for(
    archives: tuple[str, ...], labels: tuple[str, ...], expected: datetime | None
) -> None:
    update = AptUpdate("p", "1", "2", archives, labels, "all")
    assert errata_apt.release_date_for(update, RELEASES) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(["-o", "Dir::State::Lists=/x"], ["-o", "Dir::State::Lists=/x"], id="o-pair"),
        pytest.param(["-oDir=/r", "--option=A=1"], ["-oDir=/r", "--option=A=1"], id="joined"),
        pytest.param(["-t", "bookworm-backports", "-c", "/etc/x.conf", "-q"],
                     ["-c", "/etc/x.conf"], id="apt-get-only-options-dropped"),
        pytest.param(["--config-file", "/a"], ["--config-file", "/a"], id="long-pair"),
    ],
)  # fmt: skip
def test_config_options_for_apt_config(options: list[str], expected: list[str]) -> None:
    assert errata_apt.config_options(options) == expected


# -- dnf ---------------------------------------------------------------------------------------

# Captured from dnf 4.14 on Debian 12 with the test repositories (tests/support/rpm_repo.py).
DNF_LIST = """\
Added sec repo from file:///tmp/w/repos/sec
Last metadata expiration check: 0:00:01 ago on Thu Nov 26 12:53:19 2026.
PCM-2026-0001 Important/Sec. pcm-demo-1.1-1.noarch
PCM-2026-0002 Unknown/Sec.   pcm-lib-3.1-1.noarch
RHSA-2024:1234 Critical/Sec. kernel-core-5.14.0-362.24.1.el9_3.x86_64
FEDORA-2024-1 Moderate/Sec.  openssl-libs-1:3.1.1-4.fc39.x86_64
"""

DNF_INFO = """\
Last metadata expiration check: 0:04:34 ago on Thu Nov 26 12:54:37 2026.
===============================================================================
  pcm-demo security update
===============================================================================
  Update ID: PCM-2026-0001
       Type: security
    Updated: 2026-10-02 00:00:00
Description: fixes things
   Severity: Important

===============================================================================
  t
===============================================================================
  Update ID: PCM-2026-0002
       Type: security
     Issued: 2026-09-01 00:00:00
    Updated: 2026-10-01 00:00:00
"""

DNF_CHECK_UPDATE = """\
Last metadata expiration check: 0:04:34 ago on Thu Nov 26 12:54:37 2026.

pcm-demo.noarch                            1.1-1                             sec
kernel-core.x86_64            5.14.0-362.24.1.el9_3              rhel-9-baseos-rpms
Obsoleting Packages
old-thing.noarch                           2.0-1                             sec
"""


def test_parse_security_list() -> None:
    advisories = errata_dnf.parse_security_list(DNF_LIST)
    assert [(a.advisory, a.severity, a.package) for a in advisories] == [
        ("PCM-2026-0001", "Important", "pcm-demo"),
        ("PCM-2026-0002", "Unknown", "pcm-lib"),
        ("RHSA-2024:1234", "Critical", "kernel-core"),
        ("FEDORA-2024-1", "Moderate", "openssl-libs"),
    ]


def test_parse_advisory_dates_keeps_the_earliest() -> None:
    assert errata_dnf.parse_advisory_dates(DNF_INFO) == {
        "PCM-2026-0001": datetime(2026, 10, 2, tzinfo=UTC),
        "PCM-2026-0002": datetime(2026, 9, 1, tzinfo=UTC),
    }


def test_parse_check_update_stops_at_obsoletes() -> None:
    updates = errata_dnf.parse_check_update(DNF_CHECK_UPDATE)
    assert [(u.package, u.arch, u.candidate, u.repo) for u in updates] == [
        ("pcm-demo", "noarch", "1.1-1", "sec"),
        ("kernel-core", "x86_64", "5.14.0-362.24.1.el9_3", "rhel-9-baseos-rpms"),
    ]


@pytest.mark.parametrize(
    ("nevra", "name"),
    [
        pytest.param("pcm-demo-1.1-1.noarch", "pcm-demo", id="plain"),
        pytest.param("openssl-libs-1:3.1.1-4.fc39.x86_64", "openssl-libs", id="epoch"),
        pytest.param("kernel-5.14.0-362.el9.x86_64", "kernel", id="kernel"),
    ],
)
def test_nevra_name(nevra: str, name: str) -> None:
    assert errata_dnf.nevra_name(nevra) == name


NEEDS_RESTARTING_CASES = [
    pytest.param(0, "No core libraries or services have been updated since boot-up.\n"
                    "Reboot should not be necessary.\n", "", (False, [], None), id="no-reboot"),
    pytest.param(1, "Core libraries or services have been updated since boot-up:\n"
                    "  * glibc\n  * kernel\n\nReboot is required to fully utilize these "
                    "updates.\n", "", (True, ["glibc", "kernel"], None), id="reboot"),
    pytest.param(1, "", "Unable to detect release version (use '--releasever' to specify)\n"
                        "No such command: needs-restarting. Please use /usr/bin/dnf --help\n",
                 (False, [], "dnf needs-restarting -r exited 1: No such command: "
                             "needs-restarting. Please use /usr/bin/dnf --help"),
                 id="plugin-missing-is-not-a-reboot"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "stdout", "stderr", "expected"), NEEDS_RESTARTING_CASES)
def test_parse_needs_restarting(
    code: int, stdout: str, stderr: str, expected: tuple[bool, list[str], str | None]
) -> None:
    assert errata_dnf.parse_needs_restarting(code, stdout, stderr) == expected


def test_ignored_repositories() -> None:
    stderr = "Error: Cache-only enabled but no cache for 'sec'\nIgnoring repositories: sec, base\n"
    assert errata_dnf.ignored_repositories(stderr) == ["base", "sec"]
    assert errata_dnf.ignored_repositories("") == []


# -- kernels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param("6.1.0-21-amd64", "6.1.0-18-amd64", 1, id="debian-abi"),
        pytest.param("6.1.0-9-amd64", "6.1.0-10-amd64", -1, id="numeric-not-text"),
        pytest.param("5.14.0-362.8.1.el9_3.x86_64", "5.14.0-362.24.1.el9_3.x86_64", -1,
                     id="rhel"),
        pytest.param("6.1.0-18-amd64", "6.1.0-18-amd64", 0, id="same"),
        pytest.param("6.1.0", "6.1.0-1", -1, id="shorter-is-older"),
        pytest.param("6.1.0-1", "6.1.0-rc1", 1, id="number-beats-letters"),
    ],
)  # fmt: skip
def test_compare_versions(left: str, right: str, expected: int) -> None:
    assert compare_versions(left, right) == expected
    assert compare_versions(right, left) == -expected


@pytest.mark.parametrize(
    ("running", "installed", "expected"),
    [
        pytest.param("6.1.0-18-amd64", ["6.1.0-18-amd64", "6.1.0-21-amd64"],
                     "running kernel 6.1.0-18-amd64, newest installed 6.1.0-21-amd64",
                     id="newer-installed"),
        pytest.param("6.1.0-21-amd64", ["6.1.0-18-amd64", "6.1.0-21-amd64"], None,
                     id="running-newest"),
        pytest.param("6.18.44-fc-v669", [], None, id="no-kernels-installed"),
        pytest.param("6.1.0-21-amd64", ["6.1.0-9-amd64"], None, id="older-left-behind"),
    ],
)  # fmt: skip
def test_kernel_reboot_reason(running: str, installed: list[str], expected: str | None) -> None:
    assert kernel_reboot_reason(running, installed) == expected


def test_installed_kernels_from_boot_and_modules(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "vmlinuz-6.1.0-18-amd64").write_bytes(b"")
    (tmp_path / "boot" / "config-6.1.0-18-amd64").write_bytes(b"")
    (tmp_path / "modules" / "6.1.0-21-amd64").mkdir(parents=True)
    kernels = installed_kernels(tmp_path / "boot", tmp_path / "modules")
    assert kernels == ["6.1.0-18-amd64", "6.1.0-21-amd64"]
    assert installed_kernels(tmp_path / "none", tmp_path / "none") == []


# -- the decision ------------------------------------------------------------------------------


def sec(name: str, severity: str | None = None) -> PendingUpdate:
    return PendingUpdate(name, "2", "1", "x-security", True, severity)


def plain(name: str) -> PendingUpdate:
    return PendingUpdate(name, "2", "1", "x")


def survey(*updates: PendingUpdate, ages: dict[str, float] | None = None,
           ignored: tuple[str, ...] = ()) -> Survey:  # fmt: skip
    if ages is None:
        ages = {u.key: 1.0 for u in updates if u.security}
    return Survey("apt", updates, ages, ignored)


REBOOT = RebootInfo(True, ("/var/run/reboot-required exists",))

JUDGE_CASES = [
    pytest.param(survey(), RebootInfo(), {}, Status.OK,
                 "no security updates pending; 0 updates pending in all", id="up-to-date"),
    pytest.param(survey(plain("a"), plain("b")), RebootInfo(), {}, Status.OK,
                 "no security updates pending; 2 updates pending in all", id="ordinary-only"),
    pytest.param(survey(sec("a")), RebootInfo(), {}, Status.WARNING,
                 "1 security update pending (oldest 1 days); 1 update pending in all",
                 id="one-fresh-security"),
    pytest.param(survey(sec("a"), ages={"a 2": 14.0}), RebootInfo(), {}, Status.WARNING,
                 "1 security update pending (oldest 14 days)", id="exactly-14-days-warns"),
    pytest.param(survey(sec("a"), sec("b"), ages={"a 2": 3.0, "b 2": 20.0}), RebootInfo(), {},
                 Status.CRITICAL,
                 "2 security updates pending (oldest 20 days, critical after 14)",
                 id="older-than-14-days"),
    pytest.param(survey(sec("a"), ages={"a 2": 20.0}), RebootInfo(),
                 {"security_critical_days": 30}, Status.WARNING,
                 "1 security update pending (oldest 20 days)", id="custom-days"),
    pytest.param(survey(sec("a", "Important"), sec("b", "Low")), RebootInfo(), {},
                 Status.CRITICAL, "2 security updates pending (oldest 1 days; 1 Important)",
                 id="important-severity"),
    pytest.param(survey(sec("a", "Critical"), sec("b", "Important")), RebootInfo(), {},
                 Status.CRITICAL, "(oldest 1 days; 1 Critical, 1 Important)",
                 id="critical-and-important"),
    pytest.param(survey(sec("a", "Moderate")), RebootInfo(), {}, Status.WARNING,
                 "1 security update pending (oldest 1 days)", id="moderate-warns"),
    pytest.param(survey(sec("a", "Important")), RebootInfo(),
                 {"critical_severities": ["Critical"]}, Status.WARNING,
                 "1 security update pending", id="important-not-critical-by-config"),
    pytest.param(survey(sec("a")), RebootInfo(), {"security_warning": 2}, Status.OK,
                 "1 security update pending", id="below-security-warning"),
    pytest.param(survey(plain("a"), plain("b")), RebootInfo(), {"updates_warning": 2},
                 Status.WARNING, "2 updates pending (warning at 2)", id="too-many-updates"),
    pytest.param(survey(), REBOOT, {}, Status.WARNING,
                 "reboot required (/var/run/reboot-required exists)", id="reboot-warns"),
    pytest.param(survey(), REBOOT, {"reboot_status": "OK"}, Status.OK, "reboot required",
                 id="reboot-ignored"),
    pytest.param(survey(sec("a")), REBOOT, {"reboot_status": "CRITICAL"}, Status.CRITICAL,
                 "reboot required", id="reboot-critical"),
    pytest.param(survey(ignored=("sec",)), RebootInfo(), {}, Status.UNKNOWN,
                 "repositories not readable: sec", id="blind-repository"),
    pytest.param(survey(sec("a", "Important"), ignored=("sec",)), RebootInfo(), {},
                 Status.CRITICAL, "repositories not readable: sec",
                 id="known-problem-beats-blind-spot"),
]  # fmt: skip


@pytest.mark.parametrize(("facts", "reboot", "options", "status", "text"), JUDGE_CASES)
def test_judge(
    facts: Survey, reboot: RebootInfo, options: dict[str, object], status: Status, text: str
) -> None:
    verdict = judge(facts, reboot, OsErrataOptions(**options))
    assert verdict.status is status
    assert text in verdict.summary


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"critical_severities": ["Severe"]}, "critical_severities", id="severity"),
        pytest.param({"security_warning": 0}, "security_warning", id="warning-zero"),
        pytest.param({"security_critical_days": 0}, "security_critical_days", id="days-zero"),
        pytest.param({"manager": "zypper"}, "manager", id="manager"),
        pytest.param({"apt_mode": "full-upgrade"}, "apt_mode", id="apt-mode"),
        pytest.param({"refesh": True}, "refesh", id="typo"),
        pytest.param({"security_suites": []}, "security_suites", id="no-suites"),
    ],
)
def test_bad_options_are_refused(raw: dict[str, object], field: str) -> None:
    with pytest.raises(OptionsError) as caught:
        OsErrataCheck.from_config(raw)
    assert field in str(caught.value)


def test_defaults() -> None:
    options = OsErrataOptions()
    assert (options.security_warning, options.security_critical_days) == (1, 14)
    assert options.critical_severities == ["Critical", "Important"]
    assert options.refresh is False
    assert options.reboot_required_file == Path("/var/run/reboot-required")
