"""ntp: this host's clock against NTP servers, and its own time daemon's synchronisation.

Two views of one question, "is this clock right?":

* each NTP server (by default those of the host's chrony/ntpd/timesyncd configuration,
  else ``pool.ntp.org``) is asked several times with ntplib; the median offset and
  delay, and the server's stratum, are judged. Some servers unreachable is a
  WARNING, all of them CRITICAL; a server that says it is unsynchronised (stratum 16)
  is CRITICAL;
* the local daemon (chrony through ``chronyc``, else systemd-timesyncd through
  ``timedatectl show``) is asked whether it is synchronised, its leap status and
  its own offset. No daemon at all is reported with a configurable status (OK by
  default: the servers' offsets still say whether the clock is right)::

    [checks.ntp]
    servers = ["ntp1.example.net", "10.0.0.5:1123"]
    offset_warning_ms = 100
    offset_critical_ms = 1000
    missing_daemon = "WARNING"

Offsets are signed as NTP signs them: reference time minus this host's time, so a
positive offset means this host's clock is behind.
"""

from __future__ import annotations

import glob
import logging
import re
import socket
import statistics
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from .base import Check, CheckOptions
from .commands import run_command
from .errors import CheckFailed
from .options import Meta, Options, parse_options
from .options import field as option_field
from .result import CheckResult, Status

if TYPE_CHECKING:
    import ntplib

log = logging.getLogger(__name__)

DEFAULT_SERVER = "pool.ntp.org"
DEFAULT_CONFIG_FILES = (
    "/etc/chrony/chrony.conf",
    "/etc/chrony.conf",
    "/etc/ntpsec/ntp.conf",
    "/etc/ntp.conf",
    "/etc/systemd/timesyncd.conf",
)
UNSYNCHRONISED_STRATUM = 16
CHRONY_LOCAL_REFID = "7F7F0101"  # chrony's reference ID while serving its own clock
_STATUS_NAMES = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]


class NtpServer(Options):
    """One NTP server: ``"host"``, ``"host:port"``, ``"[v6addr]:port"`` or a table."""

    host: Annotated[str, Meta(min_length=1, description="name or address")]
    port: Annotated[int, Meta(ge=1, le=65535, description="UDP port")] = 123

    @classmethod
    def from_text(cls, text: str) -> dict[str, Any]:
        return parse_server(text)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 123 else f"{host}:{self.port}"


def parse_server(text: str) -> dict[str, Any]:
    """Split ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address into fields."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad server {text!r}: expected [address]:port")
        return {"host": host, "port": _port(text, rest[1:])} if rest else {"host": host}
    if text.count(":") == 1:
        host, port = text.split(":")
        return {"host": host, "port": _port(text, port)}
    return {"host": text}  # a name, an IPv4 address or a bare IPv6 address


def _port(text: str, port: str) -> int:
    try:
        return int(port)
    except ValueError:
        raise ValueError(f"bad server {text!r}: port {port!r} is not a number") from None


class NtpOptions(CheckOptions):
    """Options of the ntp check."""

    servers: (
        Annotated[
            list[NtpServer],
            Meta(
                description="NTP servers to ask (default: the host's chrony/ntp/timesyncd "
                "configuration, else pool.ntp.org); an empty list asks none"
            ),
        ]
        | None
    ) = None
    config_files: Annotated[
        list[Path],
        Meta(description="where to find the host's servers; the first file naming any wins"),
    ] = option_field(default_factory=lambda: [Path(p) for p in DEFAULT_CONFIG_FILES])
    samples: Annotated[
        int, Meta(ge=1, le=16, description="queries per server; the median counts")
    ] = 3
    sample_interval: Annotated[
        float,
        Meta(
            ge=0,
            le=60,
            description="seconds between queries to one server (ntpd's "
            "default rate limit drops faster ones)",
        ),
    ] = 2.0
    query_timeout: Annotated[
        float, Meta(gt=0, le=30, description="seconds to wait for a reply")
    ] = 2.0
    ntp_version: Annotated[int, Meta(ge=1, le=4, description="NTP version in the requests")] = 4
    offset_warning_ms: Annotated[float, Meta(ge=0, description="|offset| in ms that warns")] = 100
    offset_critical_ms: Annotated[
        float, Meta(ge=0, description="|offset| in ms that is critical")
    ] = 1000
    daemon: Annotated[
        Literal["auto", "chrony", "timesyncd", "none"],
        Meta(description="local daemon to ask: chrony, then timesyncd when auto"),
    ] = "auto"
    chronyc: Annotated[str, Meta(min_length=1, description="chronyc command")] = "chronyc"
    # \Z, not $: msgspec matches with Python's re, whose $ also matches before a final
    # newline, and "host\n" must stay refused
    chronyc_host: (
        Annotated[str, Meta(pattern=r"^[^-\s]\S*\Z", description="chronyd's command address (-h)")]
        | None
    ) = None
    chronyc_port: (
        Annotated[int, Meta(ge=1, le=65535, description="chronyd's command port (-p)")] | None
    ) = None
    timedatectl: Annotated[str, Meta(min_length=1, description="timedatectl command")] = (
        "timedatectl"
    )
    command_timeout: Annotated[float, Meta(gt=0, le=60, description="seconds for each command")] = (
        5.0
    )
    missing_daemon: Annotated[
        _STATUS_NAMES,
        Meta(description="status when no time daemon answers (it is reported either way)"),
    ] = "OK"

    def __post_init__(self) -> None:
        if self.offset_warning_ms > self.offset_critical_ms:
            raise ValueError(
                f"offset_warning_ms ({self.offset_warning_ms:g}) must not exceed "
                f"offset_critical_ms ({self.offset_critical_ms:g})"
            )


# --- the host's configured servers ---------------------------------------------------------

_CHRONY_SOURCE = re.compile(r"^(server|pool|peer)\s+(\S+)(.*)$")
_INCLUDE_DEPTH = 3


def servers_from_config(paths: Iterable[Path]) -> tuple[list[NtpServer], Path | None]:
    """The servers named by the first readable configuration that names any, and that file."""
    for path in paths:
        try:
            found = _config_servers(path, 0)
        except OSError:
            continue
        if found:
            return _unique(found), path
    return [], None


def _config_servers(path: Path, depth: int) -> list[NtpServer]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.name == "timesyncd.conf":
        return parse_timesyncd_conf(text)
    servers = parse_ntp_conf(text)
    if depth >= _INCLUDE_DEPTH:
        return servers
    for pattern in _included(text):  # chrony's include, confdir and sourcedir
        for name in sorted(glob.glob(pattern)):
            try:
                servers += _config_servers(Path(name), depth + 1)
            except OSError:
                continue
    return servers


def parse_ntp_conf(text: str) -> list[NtpServer]:
    """``server``/``pool``/``peer`` lines of a chrony.conf or ntp.conf (chrony's ``port N`` too)."""
    servers = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].split("!", 1)[0].strip()
        match = _CHRONY_SOURCE.match(line)
        if not match:
            continue
        host, options = match.group(2), match.group(3).split()
        if host.startswith("127.127."):  # ntpd's reference clock drivers, not servers
            continue
        port = options[options.index("port") + 1] if "port" in options[:-1] else "123"
        try:
            servers.append(parse_options(NtpServer, {"host": host, "port": int(port)}))
        except ValueError:  # OptionsError too: a port out of range
            log.warning("ntp: ignoring unusable line %r", line)
    return servers


def parse_timesyncd_conf(text: str) -> list[NtpServer]:
    """The ``NTP=`` servers of a timesyncd.conf."""
    servers: list[NtpServer] = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "NTP":
            servers = [NtpServer(host=h) for h in value.split()]  # the last NTP= wins
    return servers


def _included(text: str) -> list[str]:
    patterns = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "include":
            patterns.append(words[1])
        elif words[0] == "confdir":
            patterns += [f"{d}/*.conf" for d in words[1:]]
        elif words[0] == "sourcedir":
            patterns += [f"{d}/*.sources" for d in words[1:]]
    return patterns


def _unique(servers: list[NtpServer]) -> list[NtpServer]:
    return list(dict.fromkeys(servers))


# --- asking servers ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerReading:
    """What several queries to one server showed; ``error`` set when none was answered."""

    server: NtpServer
    offset: float | None = None  # seconds, median
    delay: float | None = None  # seconds, median
    stratum: int | None = None
    leap: int | None = None
    answered: int = 0
    asked: int = 0
    error: str | None = None

    @property
    def unsynchronised(self) -> bool:
        return self.answered > 0 and (
            self.leap == 3 or (self.stratum or 0) >= UNSYNCHRONISED_STRATUM
        )


def query_server(server: NtpServer, options: NtpOptions) -> ServerReading:
    """Ask ``server`` ``options.samples`` times; per-sample failures are kept, not raised."""
    import ntplib  # here, not at import: an agent without this check never loads it

    client = ntplib.NTPClient()
    answers: list[ntplib.NTPStats] = []
    errors: list[str] = []
    asked = 0
    for attempt in range(options.samples):
        if attempt:
            time.sleep(options.sample_interval)
        asked += 1
        try:
            stats = client.request(
                server.host,
                version=options.ntp_version,
                port=server.port,
                timeout=options.query_timeout,
            )
        except ntplib.NTPException as exc:  # a timeout, or a malformed reply
            timed_out = str(exc).startswith("No response")
            errors.append(f"no reply within {options.query_timeout:g}s" if timed_out else str(exc))
            continue
        except socket.gaierror as exc:
            errors.append(f"cannot resolve {server.host}: {exc.strerror or exc}")
            break  # the name will not resolve on the next try either
        except OSError as exc:
            errors.append(exc.strerror or str(exc))
            if isinstance(exc, ConnectionRefusedError):
                break  # nothing listens on that port
            continue
        kiss = kiss_code(stats)
        if kiss is not None:
            errors.append(f"kiss-o'-death {kiss}")
            if kiss in {"DENY", "RSTR"}:
                break
            continue
        answers.append(stats)
    if not answers:
        return ServerReading(server, asked=asked, error=errors[-1] if errors else "no reply")
    last = answers[-1]
    return ServerReading(
        server,
        offset=statistics.median(a.offset for a in answers),
        delay=statistics.median(a.delay for a in answers),
        stratum=UNSYNCHRONISED_STRATUM if last.leap == 3 and last.stratum == 0 else last.stratum,
        leap=last.leap,
        answered=len(answers),
        asked=asked,
    )


def kiss_code(stats: ntplib.NTPStats) -> str | None:
    """The kiss-o'-death code of a stratum-0 reply (RATE, DENY…), None for a normal reply.

    An unsynchronised server also sends stratum 0, but with the alarm leap indicator (3):
    that is a real answer meaning "stratum 16", not a refusal.
    """
    if stats.stratum != 0 or stats.leap == 3:
        return None
    code = int(stats.ref_id).to_bytes(4, "big").decode("ascii", "replace").strip("\x00 ")
    return code or "(no code)"


def judge_server(reading: ServerReading, options: NtpOptions) -> tuple[Status, str]:
    """The status of one server's reading, with the reason in words."""
    name = str(reading.server)
    if reading.error is not None:  # one of several is a WARNING; summarise() judges "all"
        return Status.WARNING, f"{name} unreachable ({reading.error})"
    if reading.unsynchronised:
        return Status.CRITICAL, f"{name} is unsynchronised (stratum {UNSYNCHRONISED_STRATUM})"
    assert reading.offset is not None
    status = offset_status(reading.offset, options)
    text = f"offset {format_offset(reading.offset)} against {name}"
    return status, _with_threshold(text, status, options)


def offset_status(offset: float, options: NtpOptions) -> Status:
    """The status of an offset in seconds against the ms thresholds."""
    offset_ms = abs(offset) * 1000
    if offset_ms >= options.offset_critical_ms:
        return Status.CRITICAL
    if offset_ms >= options.offset_warning_ms:
        return Status.WARNING
    return Status.OK


def _with_threshold(text: str, status: Status, options: NtpOptions) -> str:
    if status is Status.CRITICAL:
        return f"{text} (critical at {options.offset_critical_ms:g} ms)"
    if status is Status.WARNING:
        return f"{text} (warning at {options.offset_warning_ms:g} ms)"
    return text


def format_offset(seconds: float) -> str:
    """A signed offset a person reads at a glance: ms below a second, s above."""
    if abs(seconds) >= 1:
        return f"{seconds:+.3f} s"
    digits = 1 if abs(seconds) >= 0.01 else 3
    return f"{seconds * 1000:+.{digits}f} ms"


# --- the local daemon ----------------------------------------------------------------------


@dataclass(frozen=True)
class DaemonState:
    """What the local time daemon says of its own synchronisation."""

    daemon: str  # "chrony" or "timesyncd"
    synchronised: bool
    leap: str = ""
    offset: float | None = None  # seconds, reference minus local, like the servers'
    reference: str = ""
    stratum: int | None = None
    local_only: bool = False  # chrony serving its own clock ("local stratum"), no source
    sources: tuple[dict[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DaemonAbsent:
    """No daemon answered; ``reason`` says what was tried."""

    reason: str


@dataclass(frozen=True)
class DaemonUnreadable:
    """A daemon is there but its answer could not be read (reported UNKNOWN, not fatal)."""

    reason: str


DaemonView = DaemonState | DaemonAbsent | DaemonUnreadable


_SYSTEM_TIME = re.compile(r"([0-9.]+) seconds (fast|slow)")
_SOURCE_LINE = re.compile(
    r"^([\^=#])([*+\-?x~ ])\s+(\S+)\s+(\d+)\s+(-?\d+)\s+([0-7]+)\s+(\S+)\s+(.*)$"
)
SOURCE_STATES = {
    "*": "selected",
    "+": "combined",
    "-": "not combined",
    "?": "unreachable",
    "x": "falseticker",
    "~": "too variable",
    " ": "unknown",
}


def parse_chrony_tracking(text: str) -> DaemonState:
    """``chronyc -n tracking`` output as a DaemonState; CheckFailed if it is not that."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Reference ID" not in fields or "Leap status" not in fields:
        raise CheckFailed(f"unexpected chronyc tracking output: {text.strip()[:200]!r}")
    refid, _, refname = fields["Reference ID"].partition(" ")
    offset = None
    match = _SYSTEM_TIME.search(fields.get("System time", ""))
    if match:  # "slow of NTP time": this clock is behind, so reference minus local > 0
        offset = float(match.group(1)) * (1 if match.group(2) == "slow" else -1)
    leap = fields["Leap status"]
    stratum = int(fields["Stratum"]) if fields.get("Stratum", "").isdigit() else None
    return DaemonState(
        daemon="chrony",
        synchronised=leap != "Not synchronised" and refid.strip() != "00000000",
        leap=leap,
        offset=offset,
        reference=refname.strip("()") or refid,
        stratum=stratum,
        local_only=refid.upper() == CHRONY_LOCAL_REFID,
    )


def parse_chrony_sources(text: str) -> tuple[dict[str, Any], ...]:
    """``chronyc -n sources`` lines as ``{name, mode, state, stratum, reach}`` records."""
    sources = []
    for line in text.splitlines():
        match = _SOURCE_LINE.match(line)
        if match:
            mode, state, name, stratum, _poll, reach = match.groups()[:6]
            sources.append(
                {
                    "name": name,
                    "mode": {"^": "server", "=": "peer", "#": "refclock"}[mode],
                    "state": SOURCE_STATES[state],
                    "stratum": int(stratum),
                    "reachable": int(reach, 8) != 0,
                }
            )
    return tuple(sources)


def parse_timedatectl(text: str) -> DaemonState | DaemonAbsent:
    """``timedatectl show`` properties as a DaemonState, or absent when NTP is off."""
    props = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    if "NTPSynchronized" not in props:
        raise CheckFailed(f"unexpected timedatectl output: {text.strip()[:200]!r}")
    if props.get("CanNTP") == "no":
        return DaemonAbsent("timedatectl: no NTP service installed (CanNTP=no)")
    if props.get("NTP") == "no":
        return DaemonAbsent("timedatectl: network time synchronisation is off (NTP=no)")
    synced = props["NTPSynchronized"] == "yes"
    return DaemonState(daemon="timesyncd", synchronised=synced, leap="" if synced else "unknown")


def _chronyc(options: NtpOptions, command: str) -> str | DaemonAbsent:
    argv = [options.chronyc, "-n"]
    if options.chronyc_host:
        argv += ["-h", options.chronyc_host]
    if options.chronyc_port:
        argv += ["-p", str(options.chronyc_port)]
    try:
        out = run_command([*argv, command], timeout=options.command_timeout)
    except CheckFailed as exc:
        if "command not found" in str(exc) or options.daemon == "auto":
            return DaemonAbsent(f"chronyc: {exc}")
        raise
    text = (out.stdout + out.stderr).strip()
    if "Cannot talk to daemon" in text:
        return DaemonAbsent("chronyc: chronyd does not answer (506 Cannot talk to daemon)")
    if out.returncode != 0:
        said = f": {text[:200]}" if text else ", no output"
        raise CheckFailed(f"chronyc {command} failed (exit {out.returncode}){said}")
    return out.stdout


def read_chrony(options: NtpOptions) -> DaemonState | DaemonAbsent:
    """chronyd's tracking and sources through chronyc."""
    tracking = _chronyc(options, "tracking")
    if isinstance(tracking, DaemonAbsent):
        return tracking
    state = parse_chrony_tracking(tracking)
    sources = _chronyc(options, "sources")
    if isinstance(sources, str):
        state = replace(state, sources=parse_chrony_sources(sources))
    return state


def read_timesyncd(options: NtpOptions) -> DaemonState | DaemonAbsent:
    """The system's NTP synchronisation state through ``timedatectl show``."""
    try:
        out = run_command([options.timedatectl, "show"], timeout=options.command_timeout)
    except CheckFailed as exc:
        return DaemonAbsent(f"timedatectl: {exc}")
    if out.returncode != 0:  # no systemd, or timedated unreachable over D-Bus
        text = (out.stderr or out.stdout).strip().splitlines()
        return DaemonAbsent(f"timedatectl: {text[0] if text else f'exit {out.returncode}'}")
    return parse_timedatectl(out.stdout)


def read_daemon(options: NtpOptions) -> DaemonView:
    """The configured daemon's state; in auto mode chrony first, then timesyncd.

    A daemon that answers nonsense or hangs is DaemonUnreadable, so the servers'
    readings are still reported.
    """
    try:
        return _read_daemon(options)
    except CheckFailed as exc:
        return DaemonUnreadable(str(exc))


def _read_daemon(options: NtpOptions) -> DaemonState | DaemonAbsent:
    if options.daemon == "none":
        return DaemonAbsent('daemon check disabled (daemon = "none")')
    if options.daemon == "chrony":
        return read_chrony(options)
    if options.daemon == "timesyncd":
        return read_timesyncd(options)
    chrony = read_chrony(options)
    if isinstance(chrony, DaemonState):
        return chrony
    timesyncd = read_timesyncd(options)
    if isinstance(timesyncd, DaemonState):
        return timesyncd
    return DaemonAbsent(f"{chrony.reason}; {timesyncd.reason}")


def judge_daemon(state: DaemonView, options: NtpOptions) -> tuple[Status, str]:
    """The status of the local daemon's own view, with the reason in words."""
    if isinstance(state, DaemonUnreadable):
        return Status.UNKNOWN, f"cannot read the time daemon's state: {state.reason}"
    if isinstance(state, DaemonAbsent):
        return Status.from_name(options.missing_daemon), f"no time daemon found ({state.reason})"
    if not state.synchronised:
        reachable = [s["name"] for s in state.sources if s["reachable"]]
        why = ""
        if state.sources and not reachable:
            why = f"; none of its {len(state.sources)} sources is reachable"
        return Status.CRITICAL, f"{state.daemon} is not synchronised{why}"
    if state.local_only:
        return Status.WARNING, (
            f"{state.daemon} is synchronised only to its own local clock, no real source"
        )
    text = f"{state.daemon} synchronised"
    if state.reference:
        text += f" to {state.reference}"
    if state.leap and state.leap != "Normal":
        text += f", leap status {state.leap}"
    if state.offset is None:
        return Status.OK, text
    status = offset_status(state.offset, options)
    return status, _with_threshold(f"{text}, offset {format_offset(state.offset)}", status, options)


# --- the check -----------------------------------------------------------------------------


class NtpCheck(Check[NtpOptions]):
    """This host's clock against NTP servers and its time daemon's synchronisation."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 300

    options_model = NtpOptions
    description = "clock offset against NTP servers and the time daemon's synchronisation"

    def run(self) -> CheckResult:
        servers, source = self._servers()
        with ThreadPoolExecutor(max_workers=min(8, len(servers) or 1)) as pool:
            readings = list(pool.map(lambda s: query_server(s, self.options), servers))
        daemon = read_daemon(self.options)
        return summarise(readings, daemon, self.options, source)

    def _servers(self) -> tuple[list[NtpServer], str]:
        if self.options.servers is not None:
            return self.options.servers, "options"
        found, path = servers_from_config(self.options.config_files)
        if found:
            return found, str(path)
        return [NtpServer(host=DEFAULT_SERVER)], "default"


def summarise(
    readings: list[ServerReading],
    daemon: DaemonView,
    options: NtpOptions,
    servers_from: str = "options",
) -> CheckResult:
    """One result for the servers and the daemon: the worst problems first."""
    verdicts = [(judge_server(r, options), r) for r in readings]
    unreachable = [r for r in readings if r.error is not None]
    findings: list[tuple[Status, str]] = []
    if unreachable:
        names = ", ".join(f"{r.server} ({r.error})" for r in unreachable)
        if len(readings) == 1:
            only = unreachable[0]
            findings.append(
                (Status.CRITICAL, f"NTP server {only.server} unreachable ({only.error})")
            )
        elif len(unreachable) == len(readings):
            findings.append(
                (Status.CRITICAL, f"all {len(readings)} NTP servers unreachable: {names}")
            )
        else:
            count = f"{len(unreachable)} of {len(readings)}"
            findings.append((Status.WARNING, f"{count} NTP servers unreachable: {names}"))
    answered = [(v, r) for v, r in verdicts if r.error is None]
    findings += [v for v, _ in answered if v[0] is not Status.OK]
    if answered and all(v[0] is Status.OK for v, _ in answered):
        worst = max(answered, key=lambda vr: abs(vr[1].offset or 0))
        more = f" (largest of {len(answered)})" if len(answered) > 1 else ""
        findings.append((Status.OK, worst[0][1] + more))
    daemon_verdict = judge_daemon(daemon, options)
    # no server asked and no daemon found: OK would claim a clock nobody looked at
    observed_nothing = not readings and isinstance(daemon, DaemonAbsent)
    if observed_nothing and daemon_verdict[0] is Status.OK:
        daemon_verdict = (
            Status.UNKNOWN,
            f"nothing to observe: no NTP servers configured and {daemon_verdict[1]}",
        )
    findings.append(daemon_verdict)

    status = Status.worst(s for s, _ in findings)
    ordered = sorted(findings, key=lambda f: -f[0].severity)
    summary = "; ".join(text for _, text in ordered)
    return CheckResult(
        status,
        summary,
        _metrics(readings, daemon),
        {
            "servers_from": servers_from,
            "servers": {str(r.server): _server_details(r, v) for v, r in verdicts},
            "daemon": _daemon_details(daemon, daemon_verdict),
        },
    )


def _metrics(readings: list[ServerReading], daemon: DaemonView) -> dict[str, float]:
    metrics: dict[str, float] = {
        "servers_reachable": sum(r.error is None for r in readings),
        "servers_total": len(readings),
    }
    for r in readings:
        if r.offset is not None and r.delay is not None:
            metrics[f"{r.server} offset_ms"] = round(r.offset * 1000, 3)
            metrics[f"{r.server} delay_ms"] = round(r.delay * 1000, 3)
        if r.stratum is not None:
            metrics[f"{r.server} stratum"] = r.stratum
    if isinstance(daemon, DaemonState):
        metrics["daemon synchronised"] = int(daemon.synchronised)
        if daemon.offset is not None:
            metrics["daemon offset_ms"] = round(daemon.offset * 1000, 3)
    return metrics


def _server_details(reading: ServerReading, verdict: tuple[Status, str]) -> dict[str, Any]:
    return {
        "status": verdict[0].name,
        "reason": verdict[1],
        "answered": reading.answered,
        "asked": reading.asked,
        "stratum": reading.stratum,
        "leap": reading.leap,
        "error": reading.error,
    }


def _daemon_details(daemon: DaemonView, verdict: tuple[Status, str]) -> dict[str, Any]:
    if isinstance(daemon, DaemonAbsent | DaemonUnreadable):
        found = isinstance(daemon, DaemonUnreadable)
        return {"status": verdict[0].name, "found": found, "reason": daemon.reason}
    return {
        "status": verdict[0].name,
        "found": True,
        "daemon": daemon.daemon,
        "synchronised": daemon.synchronised,
        "leap": daemon.leap,
        "reference": daemon.reference,
        "stratum": daemon.stratum,
        "offset_s": daemon.offset,
        "sources": [dict(s) for s in daemon.sources],
    }
