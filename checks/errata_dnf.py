"""Reading pending updates and security advisories from dnf (yum on EL8+ is dnf).

Three read-only dnf commands, each with the check's ``dnf_options``::

    dnf updateinfo list --security   # PCM-2026-0001 Important/Sec. pcm-demo-1.1-1.noarch
    dnf updateinfo info --security   # per advisory: Update ID, Type, Updated, Severity
    dnf check-update                 # every pending update; exit 100 when there are some

Unlike apt, dnf's advisories carry a date (``Updated``, the advisory's last
revision, which is never earlier than its first issue), so the age of a pending
security update is known from the repository's own metadata.

dnf skips a repository it cannot read (``skip_if_unavailable``) with exit 0 and
``Ignoring repositories: NAME`` on stderr; :func:`ignored_repositories` finds
that so a blind spot is never reported as "no updates". (``-q`` hides even that
line, so dnf runs without it and the parsers skip its chatter.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .commands import CommandOutput, run_command
from .errors import CheckFailed

__all__ = [
    "Advisory",
    "DnfUpdate",
    "SEVERITIES",
    "ignored_repositories",
    "nevra_name",
    "parse_needs_restarting",
    "parse_advisory_dates",
    "parse_check_update",
    "parse_security_list",
    "run_dnf",
]

#: dnf's advisory severities, most severe first.
SEVERITIES = ("Critical", "Important", "Moderate", "Low", "Unknown")

_LIST_LINE = re.compile(r"^(?P<id>\S+)\s+(?:(?P<severity>[A-Za-z]+)/)?Sec\.\s+(?P<nevra>\S+)\s*$")
_UPDATE_LINE = re.compile(
    r"^(?P<name>\S+)\.(?P<arch>[^.\s]+)\s+(?P<version>\S+)\s+(?P<repo>\S+)\s*$"
)
_IGNORED = re.compile(r"Ignoring repositories:\s*(?P<repos>.+)")


@dataclass(frozen=True)
class Advisory:
    """One line of ``updateinfo list --security``: an advisory fixing one package."""

    advisory: str
    severity: str  # one of SEVERITIES
    nevra: str

    @property
    def package(self) -> str:
        return nevra_name(self.nevra)


@dataclass(frozen=True)
class DnfUpdate:
    """One pending update from ``dnf check-update``."""

    package: str
    arch: str
    candidate: str
    repo: str


def nevra_name(nevra: str) -> str:
    """The package name of ``name-[epoch:]version-release.arch``."""
    without_arch = nevra.rsplit(".", 1)[0] if "." in nevra else nevra
    parts = without_arch.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else without_arch


def _severity(text: str | None) -> str:
    for known in SEVERITIES:
        if text and text.lower() == known.lower():
            return known
    return "Unknown"


def parse_security_list(output: str) -> list[Advisory]:
    """The advisory lines of ``dnf updateinfo list --security`` (other lines ignored)."""
    return [
        Advisory(m["id"], _severity(m["severity"]), m["nevra"])
        for line in output.splitlines()
        if (m := _LIST_LINE.match(line.strip()))
    ]


def parse_advisory_dates(output: str) -> dict[str, datetime]:
    """Advisory id -> its ``Updated`` (or ``Issued``) time from ``updateinfo info``, as UTC."""
    dates: dict[str, datetime] = {}
    current: str | None = None
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Update ID":
            current = value
        elif key in ("Updated", "Issued") and current is not None:
            try:
                moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
            # Keep the earlier of Issued/Updated when both are printed: closer to publication.
            dates[current] = min(moment, dates.get(current, moment))
    return dates


def parse_check_update(output: str) -> list[DnfUpdate]:
    """Pending updates from ``dnf check-update`` (obsoletes section ignored)."""
    updates = []
    for line in output.splitlines():
        if line.startswith("Obsoleting Packages"):
            break
        if m := _UPDATE_LINE.match(line):
            updates.append(DnfUpdate(m["name"], m["arch"], m["version"], m["repo"]))
    return updates


def parse_needs_restarting(
    returncode: int, stdout: str, stderr: str
) -> tuple[bool, list[str], str | None]:
    """``(reboot required, core packages updated since boot, note)`` from
    ``dnf needs-restarting -r``.

    Exit 1 alone is not enough: dnf also exits 1 when the plugin is missing
    ("No such command"), which must read as "could not ask", not "reboot".
    """
    if returncode == 0:
        return False, [], None
    if returncode == 1 and "Reboot is required" in stdout:
        packages = [
            line.strip()[2:].strip()
            for line in stdout.splitlines()
            if line.strip().startswith("* ")
        ]
        return True, packages, None
    lines = [line.strip() for line in (stderr or stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("No such command", "Error"))]
    reason = (errors or lines or ["no output"])[0]
    return False, [], f"dnf needs-restarting -r exited {returncode}: {reason}"


def ignored_repositories(stderr: str) -> list[str]:
    """Repositories dnf skipped because it could not read them."""
    found: list[str] = []
    for m in _IGNORED.finditer(stderr):
        found.extend(r.strip() for r in m["repos"].split(",") if r.strip())
    return sorted(set(found))


def run_dnf(
    argv_prefix: Sequence[str], args: Sequence[str], timeout: float, ok_codes: Sequence[int] = (0,)
) -> CommandOutput:
    """Run dnf; CheckFailed with dnf's error when it exits with an unexpected code."""
    out = run_command([*argv_prefix, *args], timeout=timeout)
    if out.returncode not in ok_codes:
        lines = [line.strip() for line in out.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error")]
        reason = (errors or lines[-1:] or ["no output"])[0]
        raise CheckFailed(f"dnf {' '.join(args)} failed (exit {out.returncode}): {reason}")
    return out
