"""SSH authentication events from syslog files and the systemd journal.

Reads only what a time window needs: syslog files are read backwards from their end
until a line older than the window's start, the journal is asked with ``--since``::

    events = read_log_files([Path("/var/log/auth.log")], since, now, tz=None)
    events = read_journal(["journalctl"], since, units=["ssh", "sshd"])

Both classic syslog stamps (``Nov 26 12:00:01``: no year, the host's time zone; the
year is the one that does not put the line in the future) and RFC 3339 stamps
(``2026-11-26T12:00:01.123456+00:00``) are understood.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

from .commands import run_command
from .errors import CheckFailed

__all__ = [
    "AuthEvent",
    "parse_message",
    "parse_syslog_line",
    "read_journal",
    "read_log_files",
    "syslog_time",
]

EventKind = Literal["failed", "invalid", "accepted"]

_SSHD = re.compile(r"^sshd(?:-session|-auth)?$")
_CLASSIC = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d)(?:\.\d+)? "
    r"(?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[\d+\])?: (?P<msg>.*)$"
)
_RFC3339 = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) "
    r"(?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[\d+\])?: (?P<msg>.*)$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_REPEATED = re.compile(r"^message repeated (?P<n>\d+) times: \[ ?(?P<msg>.*?) ?\]$")
_FAILED = re.compile(
    r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) "
    r"from (?P<src>\S+) port (?P<port>\d+)"
)
_INVALID = re.compile(r"^Invalid user (?P<user>.*?) from (?P<src>\S+)(?: port (?P<port>\d+))?")
_ACCEPTED = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>.*?) from (?P<src>\S+) port (?P<port>\d+)"
)
_CHUNK = 64 * 1024


@dataclass(frozen=True, order=True)
class AuthEvent:
    """One SSH authentication event: a failure, an unknown user, or a login."""

    at: datetime
    kind: EventKind
    source: str
    user: str
    port: int | None = None
    method: str | None = None
    count: int = 1  # syslog folds repeats into "message repeated N times"


def parse_message(message: str, at: datetime) -> AuthEvent | None:
    """The event an sshd message reports, or None when it reports none we count."""
    count = 1
    repeated = _REPEATED.match(message)
    if repeated:
        count, message = int(repeated["n"]), repeated["msg"]
    if m := _FAILED.match(message):
        if m["method"] == "none":  # the client asking which methods exist, not a guess
            return None
        return AuthEvent(at, "failed", m["src"], m["user"], int(m["port"]), m["method"], count)
    if m := _INVALID.match(message):
        port = int(m["port"]) if m["port"] else None
        return AuthEvent(at, "invalid", m["src"], m["user"], port, None, count)
    if m := _ACCEPTED.match(message):
        return AuthEvent(at, "accepted", m["src"], m["user"], int(m["port"]), m["method"], count)
    return None


def syslog_time(month: int, day: int, clock: str, now: datetime, tz: tzinfo | None) -> datetime:
    """A year-less syslog stamp as an aware time: the latest year not after ``now`` (+1 day).

    Around New Year a line from Dec 31 read on Jan 1 belongs to last year.
    """
    hour, minute, second = (int(x) for x in clock.split(":"))
    local_now = now.astimezone(tz) if tz is not None else now.astimezone()
    for year in (local_now.year, local_now.year - 1):
        try:
            naive = datetime(year, month, day, hour, minute, second)
        except ValueError:  # Feb 29 in a year without one
            continue
        moment = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
        if moment <= now + timedelta(days=1):
            return moment.astimezone(UTC)
    raise ValueError(f"no year fits {month}-{day} {clock}")


def parse_syslog_line(
    line: str, now: datetime, tz: tzinfo | None
) -> tuple[datetime, str, str] | None:
    """(time, program, message) of a classic or RFC 3339 syslog line; None if neither."""
    if m := _RFC3339.match(line):
        stamp = m["stamp"].replace(" ", "T").replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(stamp).astimezone(UTC), m["prog"], m["msg"]
        except ValueError:
            return None
    if m := _CLASSIC.match(line):
        try:
            at = syslog_time(_MONTHS[m["mon"]], int(m["day"]), m["time"], now, tz)
        except (KeyError, ValueError):
            return None
        return at, m["prog"], m["msg"]
    return None


def _line_events(
    lines: Iterable[str], since: datetime, now: datetime, tz: tzinfo | None
) -> Iterator[AuthEvent]:
    for line in lines:
        parsed = parse_syslog_line(line, now, tz)
        if parsed is None or parsed[0] < since or not _SSHD.match(parsed[1]):
            continue
        event = parse_message(parsed[2], parsed[0])
        if event is not None:
            yield event


def read_log_files(
    paths: Sequence[Path],
    since: datetime,
    now: datetime,
    tz: tzinfo | None,
    max_bytes: int = 64 * 1024 * 1024,
) -> list[AuthEvent]:
    """SSH events since ``since`` from syslog files (and their ``.1`` rotation) that exist."""
    events: list[AuthEvent] = []
    for path in paths:
        for candidate in (path.with_name(path.name + ".1"), path):
            try:
                lines = _tail_since(candidate, since, now, tz, max_bytes)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise CheckFailed(f"cannot read {candidate}: {exc.strerror or exc}") from exc
            events.extend(_line_events(lines, since, now, tz))
    return sorted(events)


def _tail_since(
    path: Path, since: datetime, now: datetime, tz: tzinfo | None, max_bytes: int
) -> list[str]:
    """The file's last lines, read backwards in chunks until one is older than ``since``."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        pos = handle.tell()
        data = b""
        while pos > 0 and len(data) < max_bytes:
            step = min(_CHUNK, pos)
            pos -= step
            handle.seek(pos)
            chunk = handle.read(step)
            data = chunk + data
            # the chunk's first line may be cut; judge by its first whole line with a stamp
            first_lines = chunk.split(b"\n")[1 if pos > 0 else 0 :]
            oldest = next(
                (p[0] for p in (parse_syslog_line(_text(b), now, tz) for b in first_lines) if p),
                None,
            )
            if oldest is not None and oldest < since:
                break
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]
    return [_text(b) for b in lines if b]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def read_journal(
    command: Sequence[str],
    since: datetime,
    units: Sequence[str],
    files: Sequence[Path] = (),
    directory: Path | None = None,
    timeout: float = 30.0,
) -> list[AuthEvent]:
    """SSH events since ``since`` from ``journalctl -o json`` (optionally of given files)."""
    argv = [*command, "-o", "json", "--no-pager", "-q", "--since", f"@{int(since.timestamp())}"]
    for unit in units:
        argv += ["-u", unit]
    for file in files:
        argv += ["--file", str(file)]
    if directory is not None:
        argv += ["--directory", str(directory)]
    out = run_command(argv, timeout=timeout)
    if out.returncode != 0:
        reason = (out.stderr or out.stdout).strip().splitlines()
        raise CheckFailed(
            f"{shlex.join(argv)} exited {out.returncode}: {reason[-1] if reason else ''}"
        )
    events = []
    for line in out.stdout.splitlines():
        try:
            entry = json.loads(line)
            at = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC)
        except (ValueError, KeyError, TypeError):
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journalctl prints non-UTF-8 messages as byte arrays
            message = bytes(b for b in message if isinstance(b, int)).decode("utf-8", "replace")
        if not isinstance(message, str) or at < since:
            continue
        event = parse_message(message, at)
        if event is not None:
            events.append(event)
    return sorted(events)
