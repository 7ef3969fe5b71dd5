"""Real RPM repositories for tests: packages built by rpmbuild, indexed by createrepo_c.

The session fixture ``rpm_packages`` builds tiny noarch packages once;
``rpm_world`` is a factory making one private dnf world per call: repositories
(createrepo_c, with an ``updateinfo.xml`` added by modifyrepo_c) and an
installroot whose rpm database holds the "installed" versions. dnf is pointed at
it with ``--installroot`` and ``--setopt=reposdir=`` so nothing on the machine
changes::

    def test_x(rpm_world):
        world = rpm_world(installed={"pcm-demo": "1.0"},
                          repos={"sec": [Advisory("PCM-1", "pcm-demo", "1.1", "Important")]})
        dnf_options = world.dnf_options   # pass to the os_errata check
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.support.services import require_tool

__all__ = ["Advisory", "RpmWorld", "rpm_packages", "rpm_world"]

#: name -> versions built once per session (release 1, noarch, no files). The "glibc" is a
#: stand-in with no files: installed in a private installroot after boot it makes
#: ``dnf needs-restarting -r`` report a reboot, as a real glibc update does.
PACKAGES = {
    "pcm-demo": ["1.0", "1.1"],
    "pcm-tools": ["2.0", "2.1"],
    "pcm-lib": ["3.0", "3.1"],
    "glibc": ["9.9"],
}

_SPEC = """\
Name: %{pkgname}
Version: %{pkgver}
Release: 1
Summary: PortaCare test package
License: MIT
BuildArch: noarch
%description
A package with no files, for os_errata tests.
%files
"""


@dataclass(frozen=True)
class Advisory:
    """One updateinfo entry: ``package`` fixed in ``version``."""

    id: str
    package: str
    version: str
    severity: str | None  # None: no <severity> element
    issued: datetime
    type: str = "security"


@dataclass
class RpmWorld:
    """A private installroot and the repositories dnf should see."""

    root: Path
    reposdir: Path
    repos: dict[str, Path] = field(default_factory=dict)

    @property
    def dnf_options(self) -> list[str]:
        """dnf arguments naming this world's repositories (the check adds --installroot).

        Debian's dnf-plugins-core enables its ``local`` plugin, whose ``_dnf_local``
        repository is unreadable inside the installroot (the check rightly reports
        that as a blind spot), so it is disabled here; the other plugins stay as the
        host configures them (an empty plugin configuration breaks versionlock).
        """
        options = [f"--setopt=reposdir={self.reposdir}", "--disableplugin=local", "--releasever=1"]
        for name, path in self.repos.items():
            options += [f"--repofrompath={name},file://{path}", f"--setopt={name}.gpgcheck=0"]
        return options


def _run(argv: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    if done.returncode != 0:
        pytest.fail(f"{argv[0]} failed ({done.returncode}): {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def rpm_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Every (name, version) of PACKAGES built as a real .rpm."""
    rpmbuild = require_tool("rpmbuild", "rpm")
    top = tmp_path_factory.mktemp("rpmbuild")
    spec = top / "pcm.spec"
    spec.write_text(_SPEC)
    built: dict[tuple[str, str], Path] = {}
    for name, versions in PACKAGES.items():
        for version in versions:
            _run([
                rpmbuild, "--define", f"_topdir {top}", "--define", f"pkgname {name}",
                "--define", f"pkgver {version}", "-bb", str(spec),
            ])  # fmt: skip
            built[(name, version)] = top / "RPMS" / "noarch" / f"{name}-{version}-1.noarch.rpm"
    return built


def _updateinfo(advisories: list[Advisory]) -> str:
    entries = []
    for a in advisories:
        severity = f"<severity>{escape(a.severity)}</severity>" if a.severity else ""
        stamp = a.issued.strftime("%Y-%m-%d %H:%M:%S")
        entries.append(f"""
  <update from="test@example.net" status="stable" type="{a.type}" version="1">
    <id>{escape(a.id)}</id><title>{escape(a.package)} update</title>{severity}
    <issued date="{stamp}"/><description>test advisory</description><references/>
    <pkglist><collection short="pcm"><name>pcm</name>
      <package name="{escape(a.package)}" version="{a.version}" release="1" epoch="0"
               arch="noarch"><filename>{a.package}-{a.version}-1.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>""")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<updates>{"".join(entries)}\n</updates>\n'


@pytest.fixture
def rpm_world(
    rpm_packages: dict[tuple[str, str], Path], tmp_path: Path
) -> Iterator[Callable[..., RpmWorld]]:
    """Factory: ``rpm_world(installed={name: version}, repos={repo: [Advisory|(name, ver)]})``.

    A repository entry that is an :class:`Advisory` adds its package version and the
    advisory; a ``(name, version)`` tuple adds a package without one.
    """
    createrepo = require_tool("createrepo_c", "createrepo-c")
    modifyrepo = require_tool("modifyrepo_c", "createrepo-c")
    rpm = require_tool("rpm", "rpm")
    require_tool("dnf", "dnf")
    count = 0

    def make(
        installed: dict[str, str], repos: dict[str, list[Advisory | tuple[str, str]]]
    ) -> RpmWorld:
        nonlocal count
        count += 1
        base = tmp_path / f"world{count}"
        world = RpmWorld(base / "root", base / "yum.repos.d")
        world.root.mkdir(parents=True)
        world.reposdir.mkdir()
        _run([rpm, "--root", str(world.root), "--initdb"])
        for name, version in installed.items():
            _run([rpm, "--root", str(world.root), "-i", str(rpm_packages[(name, version)])])
        for repo, entries in repos.items():
            path = base / "repos" / repo
            path.mkdir(parents=True)
            advisories = [e for e in entries if isinstance(e, Advisory)]
            for entry in entries:
                name, version = (
                    (entry.package, entry.version) if isinstance(entry, Advisory) else entry
                )
                shutil.copy(rpm_packages[(name, version)], path)
            _run([createrepo, "-q", str(path)])
            if advisories:
                xml = base / f"{repo}-updateinfo.xml"
                xml.write_text(_updateinfo(advisories))
                _run([modifyrepo, "--mdtype=updateinfo", str(xml), str(path / "repodata")])
            world.repos[repo] = path
        return world

    yield make
