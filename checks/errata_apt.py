"""Reading pending updates from apt: its own simulation, never a changed system.

``apt-get -s dist-upgrade`` prints one ``Inst`` line per package it would
install, with the origins of the new version::

    Inst libexpat1 [2.5.0-1+deb12u1] (2.5.0-1+deb12u5 Debian-Security:12/oldstable-security [amd64])
    Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])

Each origin is apt's ``[Label:][Version/]Archive``, where ``Archive`` is the
Release file's ``Suite``; a version is a security update when one of its suites
ends in ``-security`` (Debian's ``bookworm-security``, Ubuntu's ``jammy-security``).

When an update became available is not in apt's indexes. What can be known is a
bound: the update was published no later than the ``Date`` of the Release file
that lists it (apt's copy in ``Dir::State::lists``), so ``now - Date`` is a lower
bound on how long it has been pending. See :mod:`portacare.checks.os_errata` for
how that is combined with the first time the check saw the update.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from .commands import run_command
from .errors import CheckFailed

__all__ = [
    "AptUpdate",
    "ReleaseInfo",
    "apt_lists_dir",
    "config_options",
    "is_security",
    "parse_origin",
    "parse_release",
    "parse_simulation",
    "read_releases",
    "release_date_for",
    "run_apt",
]

# "Inst NAME [OLD] (NEW ORIGINS [ARCH])" — OLD is missing for a newly installed package.
_INST = re.compile(
    r"^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]+)\])? "
    r"\((?P<new>\S+) (?P<origins>.*?) ?\[(?P<arch>[^\]]+)\]\)"
)
_REMV = re.compile(r"^Remv (?P<name>\S+)")


@dataclass(frozen=True)
class AptUpdate:
    """One ``Inst`` line of apt's simulation."""

    package: str
    installed: str | None  # None: a new package pulled in by an upgrade
    candidate: str
    archives: tuple[str, ...]  # the suites offering the candidate, as apt prints them
    labels: tuple[str, ...]
    arch: str


@dataclass(frozen=True)
class ReleaseInfo:
    """The fields of one Release/InRelease file that date a suite."""

    path: Path
    label: str
    suite: str
    codename: str
    date: datetime | None


def parse_origin(origin: str) -> tuple[str, str]:
    """``(label, archive)`` of one origin printed by apt (``[Label:][Version/]Archive``)."""
    label, sep, rest = origin.partition(":")
    if not sep:  # no label: the whole text is [Version/]Archive (or a host name)
        label, rest = "", origin
    return label, rest.rsplit("/", 1)[-1]


def parse_simulation(output: str) -> tuple[list[AptUpdate], list[str]]:
    """The packages apt would install and the ones it would remove, from ``apt-get -s``."""
    updates: list[AptUpdate] = []
    removals: list[str] = []
    for line in output.splitlines():
        if match := _INST.match(line):
            origins = [o.strip() for o in match["origins"].split(", ") if o.strip()]
            parsed = [parse_origin(o) for o in origins]
            updates.append(
                AptUpdate(
                    package=match["name"],
                    installed=match["old"],
                    candidate=match["new"],
                    archives=tuple(a for _, a in parsed),
                    labels=tuple(label for label, _ in parsed),
                    arch=match["arch"],
                )
            )
        elif match := _REMV.match(line):
            removals.append(match["name"])
    return updates, removals


def is_security(update: AptUpdate, suffixes: Sequence[str]) -> bool:
    """True when one of the suites offering the candidate is a security suite."""
    return any(archive.endswith(tuple(suffixes)) for archive in update.archives)


def parse_release(path: Path) -> ReleaseInfo:
    """Label, Suite, Codename and Date of a Release or (clear-signed) InRelease file.

    A Release without a ``Date`` is dated by the file's modification time, which
    apt sets to the server's Last-Modified when it downloads the file.
    """
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("-----BEGIN PGP SIGNED") or line.startswith("Hash:"):
            continue
        if not line.strip():
            if fields:
                break  # end of the header paragraph (or of the signature preamble)
            continue
        if line[0].isspace():
            continue  # checksum lists
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    date = _parse_date(fields.get("Date"))
    if date is None:
        date = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return ReleaseInfo(
        path=path,
        label=fields.get("Label", ""),
        suite=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        date=date,
    )


def _parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_releases(lists_dir: Path) -> list[ReleaseInfo]:
    """Every Release/InRelease apt keeps in its lists folder (unreadable ones skipped)."""
    releases = []
    for path in sorted(lists_dir.glob("*Release")):
        try:
            releases.append(parse_release(path))
        except OSError:
            continue
    return releases


def release_date_for(update: AptUpdate, releases: Sequence[ReleaseInfo]) -> datetime | None:
    """The Date of the index that offers ``update`` (the latest, when several match).

    The latest date is the conservative choice: it gives the smallest age, so a
    check never calls an update old because an unrelated stale index shares its suite.
    """
    dates = []
    for archive, label in zip(update.archives, update.labels, strict=True):
        for release in releases:
            same_suite = archive in (release.suite, release.codename)
            same_label = not label or label == release.label
            if same_suite and same_label and release.date is not None:
                dates.append(release.date)
    return max(dates, default=None)


def config_options(apt_options: Sequence[str]) -> list[str]:
    """The configuration arguments of ``apt_options`` (``-o``, ``-c`` and their long forms).

    apt-config refuses apt-get's other options (``-t``, ``-q``…), but must see every
    option that moves apt's folders.
    """
    kept: list[str] = []
    takes_value = ("-o", "-c", "--option", "--config-file")
    args = list(apt_options)
    for i, arg in enumerate(args):
        if arg in takes_value and i + 1 < len(args):
            kept += [arg, args[i + 1]]
        elif arg.startswith(("-o", "-c", "--option=", "--config-file=")) and arg not in takes_value:
            kept.append(arg)
    return kept


def apt_lists_dir(apt_config: str, apt_options: Sequence[str], timeout: float) -> Path:
    """Where apt keeps its indexes with these options (``Dir::State::lists``)."""
    argv = [apt_config, *config_options(apt_options), "shell", "LISTS", "Dir::State::lists/d"]
    out = run_command(argv, timeout=timeout)
    match = re.search(r"LISTS='([^']*)'", out.stdout)
    if out.returncode != 0 or not match:
        raise CheckFailed(f"apt-config cannot say where apt's lists are: {_last_error(out.stderr)}")
    return Path(match[1])


def run_apt(apt_get: str, apt_options: Sequence[str], args: Sequence[str], timeout: float) -> str:
    """Run apt-get with the check's options; CheckFailed with apt's error when it fails."""
    argv = [apt_get, "-o", "Debug::NoLocking=1", *apt_options, *args]
    out = run_command(argv, timeout=timeout)
    if out.returncode != 0:
        raise CheckFailed(
            f"{' '.join(['apt-get', *args])} failed (exit {out.returncode}): "
            f"{_last_error(out.stderr or out.stdout)}"
        )
    return out.stdout


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines[-1:] or ["no output"])[0]
