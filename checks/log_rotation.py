"""log_rotation: are logs rotated, compressed and kept small, and does logrotate still run?

For each configured log (paths or globs; by default the common services' logs
that exist on the host) the check looks at the live file and its rotations
beside it (``syslog.1``, ``syslog.2.gz``, ``syslog-20261120.gz``…)::

    [checks.log_rotation]
    logs = ["/var/log/syslog", "/var/log/nginx/*.log"]
    max_size = "256MB"        # a bigger live log warns
    max_age = "8d"            # newest rotation older than this warns
    state_max_age = "36h"     # logrotate silent longer is critical
    compress = true           # gzip rotations logrotate left uncompressed

It warns when a live log outgrew ``max_size`` (critical past
``critical_size``), when its newest rotation is older than ``max_age``, and
when rotations past the newest one (the one ``delaycompress`` keeps) are left
uncompressed. It is critical when logrotate's state file, rewritten on every
run, is older than ``state_max_age``: nothing rotates any more.

With ``compress = true`` it gzips those uncompressed rotations itself: into
``NAME.gz.tmp``, flushed to disk, with the original's mode, owner and times,
renamed to ``NAME.gz``, and only then the original removed.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from glob import glob, has_magic
from pathlib import Path
from typing import Annotated, Any

import msgspec

from .base import Check, CheckOptions
from .disk import format_bytes, format_hours
from .options import ByteSize, Meta
from .options import field as option_field
from .result import CheckResult, Status

__all__ = ["LogRotationCheck", "LogRotationOptions"]

log = logging.getLogger(__name__)

DEFAULT_LOGS = (
    "/var/log/syslog", "/var/log/messages", "/var/log/auth.log", "/var/log/secure",
    "/var/log/kern.log", "/var/log/daemon.log", "/var/log/mysql/*.log",
    "/var/log/mariadb/*.log", "/var/log/postgresql/*.log", "/var/log/nginx/*.log",
    "/var/log/apache2/*.log", "/var/log/httpd/*log",
)  # fmt: skip
#: Debian's and Red Hat's places for logrotate's state; the first that exists is used.
STATE_FILES = (Path("/var/lib/logrotate/status"), Path("/var/lib/logrotate/logrotate.status"))
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zstd", ".lzma", ".lz4", ".lzo", ".Z", ".br")
_EXT = "|".join(re.escape(e) for e in COMPRESSED)
#: What logrotate appends to a rotated log: ``.1``, ``-20261120``, ``-2026-11-20`` (dateext
#: with any dateformat of digits), then perhaps a compression suffix.
_ROTATION = r"[.-][0-9][0-9_:.-]*?(?:" + _EXT + r")?"
_LOOKS_ROTATED = re.compile(_ROTATION + r"$|(?:" + _EXT + r")$")
_STATE_LINE = re.compile(
    r'^"?(?P<path>.*?)"?\s+(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})'
    r"(?:-(?P<h>\d{1,2}):(?P<mi>\d{1,2}):(?P<s>\d{1,2}))?\s*$"
)
_UNITS = {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}


def parse_hours(value: Any) -> Any:
    """A duration in hours: a number is hours, a string takes a unit (90m, 36h, 8d, 2w).

    ``"off"`` is None: TOML has no null, so that is how a limit is switched off.
    """
    if isinstance(value, str) and value.strip().lower() == "off":
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 90m, 36h, 8d or 2w")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


class Hours(float):
    """A limit in hours, more than 0: a number of hours or a string with a unit (8d, 36h).

    ``"off"`` parses to :data:`_OFF`, which the owning options turn into None: msgspec
    wants an Hours back from :meth:`parse_option`, so None cannot come from here.
    """

    __slots__ = ()

    @classmethod
    def parse_option(cls, value: object) -> Hours:
        hours = parse_hours(value)
        if hours is None:
            return _OFF
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise ValueError(f"expected hours or a duration like 36h or 8d, got {hours!r}")
        if not hours > 0:
            raise ValueError(f"must be greater than 0, not {hours:g}")
        return cls(hours)


#: What parse_option gives for ``"off"``; never left in options (see __post_init__).
_OFF = Hours(math.nan)


class LogRotationOptions(CheckOptions):
    """Options of the log_rotation check."""

    logs: Annotated[
        list[str],
        Meta(description="log files or globs to watch (only those that exist are checked)"),
    ] = option_field(default_factory=lambda: list(DEFAULT_LOGS))
    max_size: Annotated[
        ByteSize, Meta(description="a live log larger than this warns ('256MB')")
    ] = ByteSize(256_000_000)
    critical_size: Annotated[
        ByteSize, Meta(description="a live log larger than this is critical ('2GB')")
    ] = ByteSize(2_000_000_000)
    max_age: (
        Annotated[
            Hours, Meta(description="newest rotation older than this warns (hours, '8d' or 'off')")
        ]
        | None
    ) = Hours(192.0)
    check_compression: Annotated[
        bool, Meta(description="warn about rotations left uncompressed past the newest")
    ] = True
    state_file: (
        Annotated[
            Path,
            Meta(
                description="logrotate's state file (default: Debian's or Red Hat's, which exists)"
            ),
        ]
        | None
    ) = None
    state_max_age: (
        Annotated[
            Hours,
            Meta(description="logrotate not run for longer is critical (hours, '36h' or 'off')"),
        ]
        | None
    ) = Hours(36.0)
    compress: Annotated[
        bool, Meta(description="gzip rotations left uncompressed (keeps mode, owner and times)")
    ] = False

    def __post_init__(self) -> None:
        for name in ("max_age", "state_max_age"):
            if getattr(self, name) is _OFF:
                msgspec.structs.force_setattr(self, name, None)
        if self.critical_size < self.max_size:
            raise ValueError(
                f"critical_size ({self.critical_size}) must not be below max_size ({self.max_size})"
            )
        if not all(p.startswith("/") for p in self.logs):
            raise ValueError("logs must be absolute paths or globs")


@dataclass(frozen=True)
class Rotation:
    """One rotated copy of a log."""

    path: Path
    mtime: float
    size: int

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(COMPRESSED)


@dataclass(frozen=True)
class LogFile:
    """A live log and its rotations, newest rotation first."""

    path: Path
    size: int
    mtime: float
    rotations: tuple[Rotation, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One problem found, or why something could not be looked at (UNKNOWN)."""

    status: Status
    text: str
    subject: str = ""  # the log it is about ("" for logrotate itself)


@dataclass
class Remediation:
    """What ``compress = true`` did this run."""

    compressed: dict[str, str] = field(default_factory=dict)  # original -> .gz
    failed: dict[str, str] = field(default_factory=dict)  # original -> why


# --- reading the host ------------------------------------------------------------------


def find_logs(patterns: Iterable[str]) -> list[Path]:
    """Live logs matching ``patterns``: existing regular files, rotated copies left out."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        matches = glob(pattern) if has_magic(pattern) else [pattern]
        for match in matches:
            path = Path(match)
            if has_magic(pattern) and _LOOKS_ROTATED.search(path.name):
                continue
            if path.is_file():
                found[str(path)] = path
    return [found[k] for k in sorted(found)]


def rotation_pattern(live_name: str) -> re.Pattern[str]:
    """The names logrotate gives rotations of ``live_name`` in the same folder."""
    return re.compile(re.escape(live_name) + _ROTATION + "$")


def observe_log(path: Path) -> LogFile:
    """The live log's size and time and its rotations beside it, newest first."""
    st = path.stat()
    pattern = rotation_pattern(path.name)
    rotations = []
    for entry in os.scandir(path.parent):
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            est = entry.stat()
            rotations.append(Rotation(Path(entry.path), est.st_mtime, est.st_size))
    rotations.sort(key=lambda r: (rotation_rank(path.name, r.path.name), -r.mtime))
    return LogFile(path, st.st_size, st.st_mtime, tuple(rotations))


def rotation_rank(live_name: str, name: str) -> tuple[int, int]:
    """Sort key putting the newest rotation first, by its name as logrotate gave it.

    ``.1`` is newer than ``.2``; ``-20261126`` is newer than ``-20261125``. Names, not
    times: a rotation touched later (copied back, compressed by hand) stays in its place.
    """
    suffix = name[len(live_name) :]
    for ext in COMPRESSED:
        if suffix.endswith(ext):
            suffix = suffix[: -len(ext)]
            break
    if re.fullmatch(r"\.\d{1,5}", suffix):
        return (0, int(suffix[1:]))
    digits = re.sub(r"\D", "", suffix)
    return (1, -int(digits)) if digits else (2, 0)


def parse_state(text: str) -> dict[str, datetime]:
    """Last rotation per log from logrotate's state file (its times are local)."""
    entries = {}
    for line in text.splitlines()[1:]:
        match = _STATE_LINE.match(line.strip())
        if not match:
            continue
        y, mo, d, h, mi, sec = (int(match.group(k) or 0) for k in ("y", "mo", "d", "h", "mi", "s"))
        try:
            entries[match.group("path")] = datetime(y, mo, d, h, mi, sec).astimezone(UTC)
        except ValueError:
            continue
    return entries


# --- judging (pure) --------------------------------------------------------------------


def uncompressed_leftovers(rotations: Iterable[Rotation]) -> list[Rotation]:
    """Rotations left uncompressed other than the newest (which ``delaycompress`` keeps)."""
    return [r for r in list(rotations)[1:] if not r.compressed]


def judge_log(
    logfile: LogFile, now: float, options: LogRotationOptions, rotated_at: float | None = None
) -> list[Finding]:
    """Problems of one log; ``rotated_at`` is when logrotate's state says it last rotated it."""
    name = str(logfile.path)
    findings = []
    if logfile.size > options.critical_size:
        findings.append(Finding(
            Status.CRITICAL,
            f"{name} is {format_bytes(logfile.size)} (critical at "
            f"{format_bytes(options.critical_size)})", name,
        ))  # fmt: skip
    elif logfile.size > options.max_size:
        findings.append(Finding(
            Status.WARNING,
            f"{name} is {format_bytes(logfile.size)} (max {format_bytes(options.max_size)})",
            name,
        ))  # fmt: skip
    last = last_rotation(logfile, rotated_at)
    if (
        options.max_age is not None
        and last is not None
        and logfile.size > 0  # nothing to rotate: notifempty leaves it alone, rightly
        and (now - last) / 3600 > options.max_age
    ):
        findings.append(Finding(
            Status.WARNING,
            f"{name} last rotated {format_hours((now - last) / 3600)} ago "
            f"(max {format_hours(options.max_age)})", name,
        ))  # fmt: skip
    if options.check_compression:
        left = uncompressed_leftovers(logfile.rotations)
        if left:
            findings.append(Finding(
                Status.WARNING,
                f"{name}: {plural(len(left), 'rotated file')} left uncompressed "
                f"({', '.join(r.path.name for r in left)})", name,
            ))  # fmt: skip
    return findings


def last_rotation(logfile: LogFile, rotated_at: float | None) -> float | None:
    """When the log was last rotated: its newest rotation's time or the state's, the later."""
    times = [t for t in (rotated_at, logfile.rotations[0].mtime if logfile.rotations else None)
             if t is not None]  # fmt: skip
    return max(times) if times else None


def judge_state(state_file: Path, mtime: float, now: float, max_hours: float | None) -> Finding:
    """Whether logrotate still runs: it rewrites its state file on every run."""
    age = max(0.0, (now - mtime) / 3600)
    if max_hours is not None and age > max_hours:
        return Finding(
            Status.CRITICAL,
            f"logrotate has not run for {format_hours(age)} (state file {state_file}; "
            f"max {format_hours(max_hours)})",
        )
    return Finding(Status.OK, f"logrotate ran {format_hours(age)} ago")


def summarise(
    logs: list[LogFile],
    findings: list[Finding],
    state_note: str,
    remediation: Remediation,
    metrics: dict[str, float],
    details: dict[str, Any],
) -> CheckResult:
    """One result: the worst finding first, what was compressed at the end."""
    problems = sorted(
        (f for f in findings if f.status is not Status.OK), key=lambda f: -f.status.severity
    )
    status = Status.worst(f.status for f in problems)
    if problems:
        summary = problems[0].text
        if len(problems) > 1:
            summary += f"; {plural(len(problems) - 1, 'more problem')}"
    else:
        summary = f"{plural(len(logs), 'log')} rotated properly"
        if state_note:
            summary += f"; {state_note}"
    if remediation.compressed:
        names = ", ".join(Path(p).name for p in remediation.compressed)
        summary += f"; compressed {plural(len(remediation.compressed), 'rotated file')} ({names})"
    if remediation.failed:
        summary += f"; could not compress {plural(len(remediation.failed), 'rotated file')}"
    details = {
        **details,
        "problems": [f.text for f in problems],
        "compressed": remediation.compressed,
        "compress_failed": remediation.failed,
    }
    return CheckResult(status, summary, metrics, details)


def plural(count: int, noun: str) -> str:
    """``1 log``, ``2 logs``: counts in summaries read as English."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- remediation -----------------------------------------------------------------------


def compress_rotation(path: Path) -> Path:
    """Gzip ``path`` atomically beside itself, keeping mode, owner and times; the .gz path.

    The copy is written to ``NAME.gz.tmp`` (readable by its owner alone meanwhile: auth
    logs stay private), flushed, given the original's metadata and moved to ``NAME.gz``
    without ever replacing an existing file (a hard link, then the temporary name
    removed); the original is removed only once ``NAME.gz`` is complete, and only if it is
    still the file that was compressed: a logrotate run shifting ``.2`` to ``.3`` meanwhile
    must not cost a log. FileExistsError if ``NAME.gz`` exists; OSError if the original
    changed.
    """
    target = path.with_name(path.name + ".gz")
    tmp = path.with_name(path.name + ".gz.tmp")
    if target.exists():
        raise FileExistsError(f"{target.name} already exists")
    with path.open("rb") as source:
        st = os.fstat(source.fileno())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw:
                with gzip.GzipFile(path.name, "wb", 6, raw, st.st_mtime) as packed:
                    shutil.copyfileobj(source, packed, 1 << 20)
                raw.flush()
                os.fsync(raw.fileno())
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            _move_no_clobber(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if not _same_file(path, st):
        target.unlink()
        raise OSError(f"{path.name} changed while it was being compressed; left as it was")
    path.unlink()
    _fsync_dir(path.parent)
    return target


def _move_no_clobber(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` unless ``target`` exists (FileExistsError)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise FileExistsError(f"{target.name} already exists") from None
    except OSError:  # a filesystem without hard links: a checked rename is the best left
        if target.exists():
            raise FileExistsError(f"{target.name} already exists") from None
        os.rename(source, target)
        return
    source.unlink()


def _same_file(path: Path, before: os.stat_result) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    fields = ("st_dev", "st_ino", "st_size", "st_mtime_ns")
    return all(getattr(now, f) == getattr(before, f) for f in fields)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the check -------------------------------------------------------------------------


class LogRotationCheck(Check[LogRotationOptions]):
    """Size, rotation age and compression of logs, and whether logrotate still runs."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 600

    options_model = LogRotationOptions
    description = "logs rotated, compressed and small; logrotate running"

    def run(self) -> CheckResult:
        now = self.context.now().timestamp()
        findings: list[Finding] = []
        metrics: dict[str, float] = {}
        details: dict[str, Any] = {}
        state_finding, rotated_at = self._look_at_state(now, metrics, details)
        state_note = ""
        if self.options.state_max_age is not None:  # else the state only dates rotations
            findings.append(state_finding)
            state_note = state_finding.text if state_finding.status is Status.OK else ""
        logs: list[LogFile] = []
        remediation = Remediation()
        per_log: dict[str, dict[str, Any]] = {}
        for path in find_logs(self.options.logs):
            try:
                logfile = observe_log(path)
                if self.options.compress:
                    logfile = self._compress_leftovers(logfile, remediation)
            except OSError as exc:  # one unreadable folder must not hide the other logs
                log.warning("log_rotation: cannot look at %s: %s", path, exc)
                findings.append(Finding(
                    Status.UNKNOWN, f"cannot look at {path}: {exc.strerror or exc}", str(path)
                ))  # fmt: skip
                continue
            logs.append(logfile)
            state_time = rotated_at.get(str(path))
            log_findings = judge_log(
                logfile, now, self.options, state_time.timestamp() if state_time else None
            )
            findings.extend(log_findings)
            per_log[str(path)] = _log_details(logfile, log_findings)
            metrics[f"{path} size_bytes"] = logfile.size
            last = last_rotation(logfile, state_time.timestamp() if state_time else None)
            if last is not None:
                metrics[f"{path} rotation_age_hours"] = round(max(0.0, now - last) / 3600, 2)
        details["logs"] = per_log
        if not logs and not any(f.subject for f in findings):
            findings.append(
                Finding(Status.UNKNOWN, "no log matched: " + ", ".join(self.options.logs))
            )
        return summarise(logs, findings, state_note, remediation, metrics, details)

    def _look_at_state(
        self, now: float, metrics: dict[str, float], details: dict[str, Any]
    ) -> tuple[Finding, dict[str, datetime]]:
        candidates = [self.options.state_file] if self.options.state_file else list(STATE_FILES)
        for candidate in candidates:
            try:
                st = candidate.stat()
                text = candidate.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            except OSError as exc:
                why = f"cannot read logrotate state file {candidate}: {exc.strerror or exc}"
                return Finding(Status.UNKNOWN, why), {}
            details["state_file"] = str(candidate)
            metrics["logrotate_age_hours"] = round(max(0.0, now - st.st_mtime) / 3600, 2)
            finding = judge_state(candidate, st.st_mtime, now, self.options.state_max_age)
            return finding, parse_state(text)
        where = ", ".join(str(c) for c in candidates)
        return Finding(Status.UNKNOWN, f"logrotate state file not found ({where})"), {}

    def _compress_leftovers(self, logfile: LogFile, remediation: Remediation) -> LogFile:
        """Gzip the rotations judge_log would complain about; the log as it is afterwards."""
        left = uncompressed_leftovers(logfile.rotations)
        if not left:
            return logfile
        for rotation in left:
            try:
                target = compress_rotation(rotation.path)
            except OSError as exc:
                log.warning("log_rotation: cannot compress %s: %s", rotation.path, exc)
                remediation.failed[str(rotation.path)] = str(exc.strerror or exc)
                continue
            remediation.compressed[str(rotation.path)] = str(target)
        return observe_log(logfile.path)


def _log_details(logfile: LogFile, findings: list[Finding]) -> dict[str, Any]:
    newest = logfile.rotations[0] if logfile.rotations else None
    return {
        "size_bytes": logfile.size,
        "rotations": len(logfile.rotations),
        "newest_rotation": str(newest.path) if newest else None,
        "uncompressed": [str(r.path) for r in uncompressed_leftovers(logfile.rotations)],
        "status": Status.worst(f.status for f in findings).name,
    }
