"""security: signs of intrusion — SSH brute force, logins after it, extra root accounts, listeners.

Looks at four things and reports the worst::

    [checks.security]
    window_minutes = 10          # brute force: failures per source address in this window
    failure_threshold = 10       # WARNING from this many failures of one source
    allowed_listeners = ["22", "127.0.0.1:5432", "[::]:443"]
    allowed_processes = ["sshd", "nginx"]

- SSH failures (failed passwords, invalid users) per source address within the window,
  from ``/var/log/auth.log``, ``/var/log/secure`` or the systemd journal: WARNING.
- A source that failed at least ``compromise_min_failures`` times and then logged in:
  CRITICAL, and it stays CRITICAL for ``compromise_hold_minutes`` (kept in the check's
  state) so the ticket does not close itself when the window moves on.
- Accounts with UID 0 other than root (new ones since the last run are named new): CRITICAL.
- TCP sockets listening outside the allow list: WARNING.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .auth_log import AuthEvent, read_journal, read_log_files
from .base import Check, CheckOptions
from .errors import CheckFailed
from .firewall import Listener, psutil_listeners, read_proc_listeners, read_proc_tables
from .options import Meta, field
from .result import CheckResult, Status, format_time, parse_time

__all__ = [
    "Compromise",
    "SecurityCheck",
    "SecurityOptions",
    "count_failures",
    "find_compromises",
    "listener_allowed",
    "read_uid0_accounts",
]


class SecurityOptions(CheckOptions):
    """Options of the security check."""

    log_source: Annotated[
        Literal["auto", "files", "journal"],
        Meta(description="auto: the auth log files that exist, else the journal"),
    ] = "auto"
    auth_logs: Annotated[
        list[Path],
        Meta(description="syslog files with sshd's messages (their .1 rotation is read too)"),
    ] = field(default_factory=lambda: [Path("/var/log/auth.log"), Path("/var/log/secure")])
    log_timezone: (
        Annotated[
            str, Meta(description="time zone of year-less syslog stamps (default: the host's)")
        ]
        | None
    ) = None
    journalctl_command: Annotated[str, Meta(description="journalctl binary")] = "journalctl"
    journal_files: Annotated[
        list[Path], Meta(description="journal files to read (--file) instead of the system's")
    ] = field(default_factory=list)
    journal_directory: (
        Annotated[Path, Meta(description="journal directory (--directory)")] | None
    ) = None
    journal_units: Annotated[list[str], Meta(min_length=1, description="sshd's units")] = field(
        default_factory=lambda: ["ssh", "sshd"]
    )
    window_minutes: Annotated[float, Meta(gt=0, description="brute-force window, minutes")] = 10
    failure_threshold: Annotated[
        int, Meta(ge=1, description="failures of one source that warn")
    ] = 10
    compromise_min_failures: (
        Annotated[
            int,
            Meta(
                ge=1,
                description="failures before a login that make it CRITICAL "
                "(default: failure_threshold)",
            ),
        ]
        | None
    ) = None
    compromise_hold_minutes: Annotated[
        float, Meta(ge=0, description="how long a login after failures stays CRITICAL")
    ] = 1440
    ignore_sources: Annotated[
        list[str], Meta(description="addresses/networks never counted (CIDR)")
    ] = field(default_factory=list)
    passwd_file: Annotated[Path, Meta(description="account database to read")] = Path("/etc/passwd")
    allowed_uid0: Annotated[list[str], Meta(description="accounts allowed to have UID 0")] = field(
        default_factory=lambda: ["root"]
    )
    check_listeners: Annotated[bool, Meta(description="judge listening TCP sockets")] = True
    allowed_listeners: Annotated[
        list[str],
        Meta(description='allowed listeners: "PORT", "ADDRESS:PORT", "[IPV6]:PORT", "*:PORT"'),
    ] = field(default_factory=lambda: ["22"])
    allowed_processes: Annotated[
        list[str], Meta(description="processes allowed to listen anywhere (psutil only)")
    ] = field(default_factory=list)
    ignore_loopback: Annotated[bool, Meta(description="listeners on loopback are not exposed")] = (
        True
    )
    listening_source: Annotated[
        Literal["psutil", "proc"],
        Meta(description="psutil, or proc: read proc_net_dir/tcp{,6} via command_prefix"),
    ] = "psutil"
    proc_net_dir: Annotated[Path, Meta(description="where the proc socket tables are")] = Path(
        "/proc/net"
    )
    command_prefix: Annotated[
        list[str], Meta(description="argv put before `cat` of proc files (a namespace)")
    ] = field(default_factory=list)
    command_timeout: Annotated[float, Meta(gt=0, description="seconds journalctl/cat may take")] = (
        30
    )
    max_read_mb: Annotated[
        float, Meta(gt=0, description="most MiB read backwards from one log")
    ] = 64

    def __post_init__(self) -> None:
        if self.log_timezone is not None:
            try:
                ZoneInfo(self.log_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"log_timezone: unknown time zone {self.log_timezone!r}") from None
        for item in self.ignore_sources:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:  # names the bad one
                raise ValueError(f"ignore_sources: {exc}") from None
        for item in self.allowed_listeners:
            try:
                _split_listener(item)
            except ValueError as exc:
                raise ValueError(f"allowed_listeners: {exc}") from None
        if self.command_prefix and self.listening_source != "proc":
            raise ValueError("command_prefix only applies with listening_source = 'proc'")

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def min_failures_before_login(self) -> int:
        return self.compromise_min_failures or self.failure_threshold


# --------------------------------------------------------------------------- decisions


def _ignored(source: str, networks: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def count_failures(events: Sequence[AuthEvent], start: datetime, end: datetime) -> dict[str, int]:
    """Failed attempts per source address between ``start`` and ``end`` (inclusive).

    Each "Failed …" line is one guess. "Invalid user" lines count only for connections
    (source and port) without a "Failed" line, so one guess at an unknown user counts once
    whether or not the client got as far as a password.
    """
    failed_ports: set[tuple[str, int | None]] = set()
    counts: dict[str, int] = defaultdict(int)
    window = [e for e in events if start <= e.at <= end]
    for event in window:
        if event.kind == "failed":
            counts[event.source] += event.count
            failed_ports.add((event.source, event.port))
    for event in window:
        if event.kind == "invalid" and (event.source, event.port) not in failed_ports:
            counts[event.source] += event.count
    return dict(counts)


@dataclass(frozen=True)
class Compromise:
    """A login from a source that had been failing: the likeliest sign of a guessed password."""

    at: datetime
    source: str
    user: str
    failures: int

    def __str__(self) -> str:
        return (
            f"login as {self.user} from {self.source} after {self.failures} failures "
            f"({format_time(self.at)})"
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "source": self.source,
            "user": self.user,
            "failures": self.failures,
        }

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> Compromise:
        return cls(parse_time(raw["at"]), raw["source"], raw["user"], int(raw["failures"]))


def find_compromises(
    events: Sequence[AuthEvent],
    start: datetime,
    end: datetime,
    window: timedelta,
    min_failures: int,
) -> list[Compromise]:
    """Logins between ``start`` and ``end`` preceded, within ``window``, by enough failures."""
    found = []
    for event in events:
        if event.kind != "accepted" or not start <= event.at <= end:
            continue
        before = [e for e in events if e.source == event.source and e.at < event.at]
        failures = count_failures(before, event.at - window, event.at).get(event.source, 0)
        if failures >= min_failures:
            found.append(Compromise(event.at, event.source, event.user, failures))
    return found


def read_uid0_accounts(passwd: str) -> list[str]:
    """Names of the accounts with UID 0 in a passwd file's text."""
    names = []
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and not line.startswith(("#", "+", "-")) and fields[2].strip() == "0":
            names.append(fields[0])
    return names


def _split_listener(entry: str) -> tuple[str | None, int]:
    text = entry.strip()
    host: str | None = None
    if ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host.strip("[]")
        if host != "*":
            ipaddress.ip_address(host)  # ValueError names a bad address
        else:
            host = None
    else:
        port_text = text
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"allowed listener {entry!r}: port must be 1-65535")
    return host, int(port_text)


def listener_allowed(listener: Listener, options: SecurityOptions) -> bool:
    """True when the allow lists (or loopback) cover ``listener``."""
    if options.ignore_loopback and listener.loopback:
        return True
    if listener.process and listener.process in options.allowed_processes:
        return True
    for entry in options.allowed_listeners:
        host, port = _split_listener(entry)
        if port != listener.port:
            continue
        if host is None or ipaddress.ip_address(host) == ipaddress.ip_address(listener.address):
            return True
    return False


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Finding:
    status: Status
    text: str


class SecurityCheck(Check[SecurityOptions]):
    """SSH brute force and logins after it, extra UID 0 accounts, unexpected listeners."""

    options_model = SecurityOptions
    description = "signs of intrusion: SSH brute force, UID 0 accounts, unexpected listeners"

    def _timezone(self) -> tzinfo | None:
        return ZoneInfo(self.options.log_timezone) if self.options.log_timezone else None

    def read_events(self, since: datetime) -> tuple[list[AuthEvent], str]:
        """SSH events since ``since`` and a word on where they came from."""
        o = self.options
        source = o.log_source
        existing = [p for p in o.auth_logs if p.exists()]
        if source == "auto":
            source = "files" if existing else "journal"
        if source == "files":
            if not existing:
                raise CheckFailed(f"no auth log found ({', '.join(map(str, o.auth_logs))})")
            events = read_log_files(
                existing,
                since,
                self.context.now(),
                self._timezone(),
                int(o.max_read_mb * 1024 * 1024),
            )
            return events, ", ".join(map(str, existing))
        events = read_journal(
            [o.journalctl_command],
            since,
            o.journal_units,
            o.journal_files,
            o.journal_directory,
            o.command_timeout,
        )
        return events, "journal"

    def listening(self) -> list[Listener]:
        """Listening TCP sockets (this host's, or of the namespace command_prefix enters)."""
        o = self.options
        if o.listening_source == "psutil":
            found = psutil_listeners()
        else:
            texts = read_proc_tables(
                ("tcp", "tcp6"), o.proc_net_dir, o.command_prefix, o.command_timeout
            )
            found = read_proc_listeners(texts)
        return [lis for lis in found if lis.proto == "tcp"]

    def run(self) -> CheckResult:
        o = self.options
        now = self.context.now()
        state = self.state.load()
        findings: list[Finding] = []
        blind: list[str] = []
        metrics: dict[str, float] = {}
        details: dict[str, Any] = {}

        try:
            # twice the window: a login at the window's start needs the failures before it
            events, origin = self.read_events(now - 2 * o.window)
        except CheckFailed as exc:
            blind.append(f"auth log: {exc}")
        else:
            events = [e for e in events if not _ignored(e.source, o.ignore_sources)]
            findings += self._judge_logins(events, origin, now, state, metrics, details)

        try:
            findings += self._judge_uid0(state, metrics, details)
        except CheckFailed as exc:
            blind.append(f"accounts: {exc}")

        if o.check_listeners:
            try:
                listeners = self.listening()
            except CheckFailed as exc:
                blind.append(f"listeners: {exc}")
            else:
                findings += self._judge_listeners(listeners, metrics, details)

        self.state.save(state)
        return summarise(findings, blind, metrics, details)

    def _judge_logins(
        self,
        events: list[AuthEvent],
        origin: str,
        now: datetime,
        state: dict[str, Any],
        metrics: dict[str, float],
        details: dict[str, Any],
    ) -> list[Finding]:
        o = self.options
        findings = []
        counts = count_failures(events, now - o.window, now)
        over = sorted(((n, s) for s, n in counts.items() if n >= o.failure_threshold), reverse=True)
        window_text = f"{o.window_minutes:g} min"
        if over:
            named = ", ".join(f"{s} ({n} failures)" for n, s in over[:5])
            more = f" and {len(over) - 5} more" if len(over) > 5 else ""
            findings.append(
                Finding(Status.WARNING, f"SSH brute force in the last {window_text}: {named}{more}")
            )
        held = [Compromise.from_state(c) for c in state.get("compromises", [])]
        fresh = find_compromises(events, now - o.window, now, o.window, o.min_failures_before_login)
        # a login seen in this window always counts, however short the hold
        keep_from = now - max(timedelta(minutes=o.compromise_hold_minutes), o.window)
        by_login: dict[tuple[datetime, str, str], Compromise] = {}
        for c in [*held, *fresh]:  # a later run may see fewer of the failures: keep the most
            key = (c.at, c.source, c.user)
            if c.at >= keep_from and (key not in by_login or by_login[key].failures < c.failures):
                by_login[key] = c
        compromises = sorted(by_login.values(), key=lambda c: c.at)
        state["compromises"] = [c.to_state() for c in compromises]
        findings += [Finding(Status.CRITICAL, str(c)) for c in compromises]
        metrics["ssh_failures"] = float(sum(counts.values()))
        metrics["ssh_failing_sources"] = float(len(counts))
        metrics["ssh_max_failures_per_source"] = float(max(counts.values(), default=0))
        metrics["ssh_logins_after_failures"] = float(len(compromises))
        details["auth_log"] = {
            "read_from": origin,
            "window_minutes": o.window_minutes,
            "failures_per_source": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:20]),
            "logins_after_failures": [c.to_state() for c in compromises],
        }
        return findings

    def _judge_uid0(
        self, state: dict[str, Any], metrics: dict[str, float], details: dict[str, Any]
    ) -> list[Finding]:
        path = self.options.passwd_file
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CheckFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
        extra = [n for n in read_uid0_accounts(text) if n not in self.options.allowed_uid0]
        known = state.get("uid0")
        new = [n for n in extra if isinstance(known, list) and n not in known]
        state["uid0"] = extra
        metrics["uid0_extra_accounts"] = float(len(extra))
        details["uid0_extra_accounts"] = extra
        return [
            Finding(
                Status.CRITICAL,
                f"{'new ' if name in new else ''}UID 0 account besides root: {name}",
            )
            for name in extra
        ]

    def _judge_listeners(
        self, listeners: list[Listener], metrics: dict[str, float], details: dict[str, Any]
    ) -> list[Finding]:
        unexpected = [lis for lis in listeners if not listener_allowed(lis, self.options)]
        metrics["listeners"] = float(len(listeners))
        metrics["unexpected_listeners"] = float(len(unexpected))
        details["unexpected_listeners"] = [str(lis) for lis in unexpected]
        if not unexpected:
            return []
        named = ", ".join(str(lis) for lis in unexpected[:10])
        more = f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else ""
        return [Finding(Status.WARNING, f"unexpected listeners: {named}{more}")]


def summarise(
    findings: list[Finding], blind: list[str], metrics: dict[str, float], details: dict[str, Any]
) -> CheckResult:
    """The worst finding first; UNKNOWN only when nothing is wrong but something went unseen."""
    details["findings"] = [{"status": f.status.name, "text": f.text} for f in findings]
    details["unreadable"] = blind
    ordered = sorted(findings, key=lambda f: -f.status.severity)
    if ordered:
        summary = "; ".join(f.text for f in ordered)
        if blind:
            summary += f"; not checked: {'; '.join(blind)}"
        return CheckResult(ordered[0].status, summary, metrics, details)
    if blind:
        return CheckResult(Status.UNKNOWN, f"cannot check {'; '.join(blind)}", metrics, details)
    failures = int(metrics.get("ssh_failures", 0))
    worst = int(metrics.get("ssh_max_failures_per_source", 0))
    window = details.get("auth_log", {}).get("window_minutes", 0)
    parts = [f"{failures} failed SSH logins in {window:g} min (at most {worst} per source)"]
    parts.append("no UID 0 account besides root")
    if "listeners" in metrics:
        count = int(metrics["listeners"])
        parts.append(f"{count} listener{'' if count == 1 else 's'} allowed")
    return CheckResult(Status.OK, "no signs of intrusion: " + ", ".join(parts), metrics, details)
