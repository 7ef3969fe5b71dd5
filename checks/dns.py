"""dns: this host's name resolves to it, its addresses resolve back, its resolvers work.

Three looks, each through the host's own resolvers (``/etc/resolv.conf``'s unless
configured), asked directly with dnspython so no cache or /etc/hosts hides a fault:

* forward: the host's FQDN has A/AAAA records and they are addresses this host
  really has. No record is CRITICAL; only foreign addresses is CRITICAL; some
  foreign among local ones is a WARNING;
* reverse: each of the host's addresses (non-loopback, non-link-local; or those
  configured) has a PTR whose name resolves back to that address (forward-confirmed
  reverse DNS). A missing PTR or a name that does not lead back is a WARNING;
* resolvers: each resolver answers within query_timeout and resolves an external
  name (so forwarding works). Some failing is a WARNING, all failing CRITICAL; a
  REFUSED or SERVFAIL names the resolver and the name::

    [checks.dns]
    hostname = "sw1.example.net"
    resolvers = ["10.0.0.53", "10.0.1.53:5353"]
    test_name = "www.example.org"
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from .base import Check, CheckOptions
from .errors import CheckFailed
from .options import IPAddress, IPAddressOption, Meta, Options, parse_options
from .options import field as option_field
from .result import CheckResult, Status

# dnspython and psutil are imported where a run needs them: an agent that does not
# run this check does not keep them in memory (about 3 MB).
if TYPE_CHECKING:
    import dns.name
    import dns.resolver

VIRTUAL_INTERFACES = (
    "docker*",
    "br-*",
    "veth*",
    "virbr*",
    "lxcbr*",
    "lxdbr*",
    "cni*",
    "flannel*",
    "cali*",
    "podman*",
    "vnet*",
    "kube-*",
)


class DnsResolver(Options):
    """A resolver: ``"10.0.0.53"``, ``"10.0.0.53:5353"``, ``"[2001:db8::53]:5353"`` or a table."""

    address: Annotated[IPAddressOption, Meta(description="the resolver's IP address")]
    port: Annotated[int, Meta(ge=1, le=65535, description="its port")] = 53

    @classmethod
    def from_text(cls, text: str) -> dict[str, Any]:
        return parse_resolver(text)

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return str(self.address) if self.port == 53 else f"{host}:{self.port}"


def parse_resolver(text: str) -> dict[str, Any]:
    """Split ``addr``, ``addr:port``, ``[v6]:port`` or a bare IPv6 address into fields."""
    text = text.strip()
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad resolver {text!r}: expected [address]:port")
        return {"address": address, "port": _port(text, rest[1:])} if rest else {"address": address}
    if text.count(":") == 1:
        address, port = text.split(":")
        return {"address": address, "port": _port(text, port)}
    return {"address": text}


def _port(text: str, port: str) -> int:
    try:
        return int(port)
    except ValueError:
        raise ValueError(f"bad resolver {text!r}: port {port!r} is not a number") from None


class DnsOptions(CheckOptions):
    """Options of the dns check."""

    hostname: (
        Annotated[str, Meta(description="name to look up (default: this host's FQDN)")] | None
    ) = None
    local_addresses: (
        Annotated[
            list[IPAddressOption],
            Meta(description="addresses this host has (default: every interface's, via psutil)"),
        ]
        | None
    ) = None
    reverse_addresses: (
        Annotated[
            list[IPAddressOption],
            Meta(
                description="addresses whose PTR is checked (default: the local ones that are "
                "neither loopback nor link-local, outside exclude_interfaces)"
            ),
        ]
        | None
    ) = None
    exclude_interfaces: Annotated[
        list[str],
        Meta(
            description="interfaces (globs) whose addresses need no PTR: container and VM "
            "bridges; they still count as this host's for the forward check"
        ),
    ] = option_field(default_factory=lambda: list(VIRTUAL_INTERFACES))
    resolvers: (
        Annotated[
            list[DnsResolver],
            Meta(description="resolvers to use and test (default: resolv_conf's nameservers)"),
        ]
        | None
    ) = None
    resolv_conf: Annotated[Path, Meta(description="where the resolvers are")] = Path(
        "/etc/resolv.conf"
    )
    test_name: Annotated[
        str, Meta(min_length=1, description="external name every resolver must resolve")
    ] = "example.com"
    query_timeout: Annotated[
        float, Meta(gt=0, le=30, description="seconds to wait for one answer")
    ] = 2.0
    check_forward: Annotated[bool, Meta(description="check the hostname's A/AAAA records")] = True
    check_reverse: Annotated[bool, Meta(description="check the addresses' PTR records")] = True
    check_resolvers: Annotated[bool, Meta(description="check each resolver answers test_name")] = (
        True
    )
    reverse_must_match_hostname: Annotated[
        bool, Meta(description="warn when a confirmed PTR names another host than hostname")
    ] = False

    def __post_init__(self) -> None:
        if not (self.check_forward or self.check_reverse or self.check_resolvers):
            raise ValueError("check_forward, check_reverse and check_resolvers are all false")


Finding = tuple[Status, str]


def read_resolv_conf(path: Path) -> list[DnsResolver]:
    """The ``nameserver`` entries of a resolv.conf; ``addr:port``/``[v6]:port`` accepted too."""
    resolvers = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                resolvers.append(parse_options(DnsResolver, words[1]))
            except ValueError:
                continue  # not an address: the C library ignores it too
    return resolvers


def interface_addresses() -> dict[str, set[IPAddress]]:
    """Every IPv4/IPv6 address on each of this host's interfaces (scope suffixes dropped)."""
    import psutil

    found: dict[str, set[IPAddress]] = {}
    for interface, addresses in psutil.net_if_addrs().items():
        for addr in addresses:
            try:
                address = ipaddress.ip_address(addr.address.split("%", 1)[0])
            except ValueError:
                continue  # link-layer (AF_PACKET) entries
            found.setdefault(interface, set()).add(address)
    return found


def split_local(
    by_interface: dict[str, set[IPAddress]], exclude: list[str]
) -> tuple[set[IPAddress], set[IPAddress]]:
    """All the host's addresses, and those of interfaces not matching ``exclude`` (globs)."""
    everything: set[IPAddress] = set()
    kept: set[IPAddress] = set()
    for interface, addresses in by_interface.items():
        everything |= addresses
        if not any(fnmatch(interface, pattern) for pattern in exclude):
            kept |= addresses
    return everything, kept


def reverse_candidates(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    """The addresses a PTR is expected for: not loopback, link-local, multicast or unspecified."""
    return sorted(
        (
            a
            for a in addresses
            if not (a.is_loopback or a.is_link_local or a.is_multicast or a.is_unspecified)
        ),
        key=lambda a: (a.version, a),
    )


def _plain(name: dns.name.Name | str) -> str:
    return str(name).rstrip(".").lower()


# --- resolvers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolverReading:
    """How one resolver answered the test name."""

    resolver: DnsResolver
    ok: bool
    reason: str
    response_ms: float | None = None  # None: no answer at all (timeout, network error)


def probe_resolver(resolver: DnsResolver, name: str, timeout: float) -> ResolverReading:
    """Ask ``resolver`` for ``name``'s A record, recursively, once (TCP if truncated)."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    query = dns.message.make_query(name, dns.rdatatype.A)  # RD set: the resolver must recurse
    started = time.monotonic()
    try:
        response, _ = dns.query.udp_with_fallback(
            query, str(resolver.address), port=resolver.port, timeout=timeout
        )
    except dns.exception.Timeout:
        return ResolverReading(
            resolver, False, f"{resolver} did not answer {name} within {timeout:g}s"
        )
    except (OSError, dns.exception.DNSException) as exc:
        return ResolverReading(resolver, False, f"{resolver} cannot be asked for {name}: {exc}")
    elapsed = round((time.monotonic() - started) * 1000, 1)
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR and response.answer:
        return ResolverReading(resolver, True, f"{resolver} resolves {name}", elapsed)
    if rcode == dns.rcode.NOERROR:
        why = f"{resolver} has no address for {name} (empty answer)"
    elif rcode == dns.rcode.NXDOMAIN:
        why = f"{resolver} says {name} does not exist (NXDOMAIN)"
    else:
        why = f"{resolver} answered {dns.rcode.to_text(rcode)} for {name}"
    return ResolverReading(resolver, False, why, elapsed)


def judge_resolvers(readings: list[ResolverReading], name: str) -> Finding:
    """Some resolvers failing is a WARNING, all of them CRITICAL."""
    failed = [r for r in readings if not r.ok]
    if not failed:
        count = len(readings)
        return Status.OK, (
            f"{count} resolvers resolve {name}" if count > 1 else f"resolver resolves {name}"
        )
    reasons = "; ".join(r.reason for r in failed)
    if len(failed) == len(readings):
        if len(readings) == 1:
            return Status.CRITICAL, f"resolver failing: {reasons}"
        return Status.CRITICAL, f"all {len(readings)} resolvers failing: {reasons}"
    return Status.WARNING, f"{len(failed)} of {len(readings)} resolvers failing: {reasons}"


# --- lookups through the host's resolvers --------------------------------------------------


class LookupUndecided(Exception):
    """A lookup could not be decided (timeout, every resolver refused); not an answer."""


def make_resolver(resolvers: list[DnsResolver], timeout: float) -> dns.resolver.Resolver:
    """A dnspython resolver over exactly ``resolvers`` (ports included), without cache."""
    import dns.nameserver
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [
        dns.nameserver.Do53Nameserver(str(r.address), r.port) for r in resolvers
    ]
    resolver.timeout = timeout
    resolver.lifetime = timeout * len(resolvers) + 0.5
    resolver.cache = None
    return resolver


@dataclass(frozen=True)
class Lookup:
    """Addresses (or names) a name has, or why it has none: "nxdomain", "noanswer"."""

    values: tuple[str, ...] = ()
    missing: str = ""


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> Lookup:
    """One query through ``resolver``; LookupUndecided when no resolver gave an answer."""
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(missing="nxdomain")
    except dns.resolver.NoNameservers as exc:
        raise LookupUndecided(f"no resolver answered {rdtype} {name}: {_first_error(exc)}") from exc
    except dns.exception.Timeout as exc:
        raise LookupUndecided(f"{rdtype} lookup of {name} timed out") from exc
    except dns.exception.DNSException as exc:
        raise LookupUndecided(f"{rdtype} lookup of {name} failed: {exc}") from exc
    if answer.rrset is None:
        return Lookup(missing="noanswer")
    return Lookup(tuple(_plain(r.to_text()) for r in answer.rrset))


def _first_error(exc: dns.resolver.NoNameservers) -> str:
    import dns.message
    import dns.rcode

    errors = exc.kwargs.get("errors") or []
    for _server, _tcp, _port, error in (e[:4] for e in errors if len(e) >= 4):
        if isinstance(error, dns.message.Message):
            return dns.rcode.to_text(error.rcode())
        return str(error)
    return "no usable answer"


def addresses_of(resolver: dns.resolver.Resolver, name: str) -> Lookup:
    """A and AAAA of ``name`` together; missing only when neither has a record."""
    a, aaaa = lookup(resolver, name, "A"), lookup(resolver, name, "AAAA")
    values = a.values + aaaa.values
    if values:
        return Lookup(values)
    both_nx = a.missing == "nxdomain" and aaaa.missing == "nxdomain"
    return Lookup(missing="nxdomain" if both_nx else "noanswer")


# --- forward -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardReading:
    hostname: str
    addresses: tuple[str, ...] = ()
    missing: str = ""
    error: str | None = None


def judge_forward(reading: ForwardReading, local: set[IPAddress]) -> Finding:
    """The hostname must resolve, and only to addresses this host has."""
    name = reading.hostname
    if reading.error is not None:  # what this host's clients meet too
        return Status.CRITICAL, f"{name} cannot be resolved: {reading.error}"
    if reading.missing == "nxdomain":
        return Status.CRITICAL, f"{name} does not resolve (NXDOMAIN)"
    if not reading.addresses:
        return Status.CRITICAL, f"{name} has no A or AAAA record"
    foreign = [a for a in reading.addresses if ipaddress.ip_address(a) not in local]
    shown = ", ".join(reading.addresses)
    if len(foreign) == len(reading.addresses):
        return Status.CRITICAL, f"{name} resolves to {shown}, none of them this host's"
    if foreign:
        return Status.WARNING, (
            f"{name} resolves to {', '.join(foreign)}, not this host's (besides its own "
            f"{', '.join(a for a in reading.addresses if a not in foreign)})"
        )
    return Status.OK, f"{name} resolves to {shown}"


# --- reverse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReverseReading:
    address: str
    names: tuple[str, ...] = ()  # PTR targets
    confirmed: str | None = None  # the PTR name that resolves back to address
    resolves_to: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None


def read_reverse(resolver: dns.resolver.Resolver, address: IPAddress) -> ReverseReading:
    """``address``'s PTR names and which of them leads back to it."""
    import dns.reversename

    text = str(address)
    try:
        ptr = lookup(resolver, dns.reversename.from_address(text).to_text(), "PTR")
        resolves_to: dict[str, tuple[str, ...]] = {}
        for name in ptr.values:
            forward = lookup(resolver, name, "A" if address.version == 4 else "AAAA")
            resolves_to[name] = forward.values
            if any(ipaddress.ip_address(v) == address for v in forward.values):
                return ReverseReading(text, ptr.values, name, resolves_to)
    except LookupUndecided as exc:
        return ReverseReading(text, error=str(exc))
    return ReverseReading(text, ptr.values, None, resolves_to)


def judge_reverse(reading: ReverseReading, hostname: str, must_match: bool) -> Finding:
    """A PTR must exist and lead back (FCrDNS); a mismatch names both names."""
    address = reading.address
    if reading.error is not None:
        return Status.WARNING, f"PTR of {address} cannot be resolved: {reading.error}"
    if not reading.names:
        return Status.WARNING, f"{address} has no PTR record"
    if reading.confirmed is None:
        name = reading.names[0]
        back = reading.resolves_to.get(name) or ()
        where = f"resolves to {', '.join(back)}" if back else "does not resolve"
        return Status.WARNING, (
            f"PTR of {address} is {name} (this host is {hostname}), but {name} {where}, "
            f"not back to {address}"
        )
    if must_match and reading.confirmed != hostname:
        return Status.WARNING, f"PTR of {address} is {reading.confirmed}, not {hostname}"
    return Status.OK, f"PTR of {address} is {reading.confirmed}, which resolves back to it"


# --- the check -----------------------------------------------------------------------------


@dataclass
class Report:
    """Findings, metrics and details gathered by the three looks, merged into one result."""

    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def result(self) -> CheckResult:
        """The worst finding decides; the summary lists findings worst first."""
        status = Status.worst(s for s, _ in self.findings)
        ordered = sorted(self.findings, key=lambda f: -f[0].severity)
        return CheckResult(status, "; ".join(t for _, t in ordered), self.metrics, self.details)


class DnsCheck(Check[DnsOptions]):
    """The host's name, its addresses' PTRs and its resolvers, through its own resolvers."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 300

    options_model = DnsOptions
    description = "forward and reverse DNS of this host, and its resolvers"

    def run(self) -> CheckResult:
        opts = self.options
        resolvers = self._resolvers()
        hostname = _plain(opts.hostname or self.context.hostname)
        if opts.local_addresses is not None:
            local = reverse_pool = set(opts.local_addresses)
        else:
            local, reverse_pool = split_local(interface_addresses(), opts.exclude_interfaces)
        report = Report(details={"hostname": hostname})
        if opts.check_resolvers:
            probes = self._probe(resolvers, report)
            if not any(p.response_ms is not None for p in probes):
                report.findings.append(
                    (Status.CRITICAL, "forward and reverse lookups skipped: no resolver answers")
                )
                return report.result()
            # ask working resolvers first, as a client that failed over would
            resolvers = [p.resolver for p in sorted(probes, key=lambda p: not p.ok)]
        resolver = make_resolver(resolvers, opts.query_timeout)
        if opts.check_forward:
            self._forward(resolver, hostname, local, report)
        if opts.check_reverse:
            addresses = (
                list(opts.reverse_addresses)
                if opts.reverse_addresses is not None
                else reverse_candidates(reverse_pool)
            )
            self._reverse(resolver, hostname, addresses, report)
        return report.result()

    def _resolvers(self) -> list[DnsResolver]:
        if self.options.resolvers is not None:
            if not self.options.resolvers:
                raise CheckFailed("no resolvers configured (resolvers = [])")
            return list(self.options.resolvers)
        path = self.options.resolv_conf
        try:
            found = read_resolv_conf(path)
        except OSError as exc:
            raise CheckFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not found:
            raise CheckFailed(f"{path} names no nameserver")
        return found

    def _probe(self, resolvers: list[DnsResolver], report: Report) -> list[ResolverReading]:
        name, timeout = self.options.test_name, self.options.query_timeout
        with ThreadPoolExecutor(max_workers=min(8, len(resolvers))) as pool:
            probes = list(pool.map(lambda r: probe_resolver(r, name, timeout), resolvers))
        report.findings.append(judge_resolvers(probes, name))
        report.details["resolvers"] = {
            str(p.resolver): {"ok": p.ok, "reason": p.reason} for p in probes
        }
        report.metrics["resolvers_ok"] = sum(p.ok for p in probes)
        report.metrics["resolvers_total"] = len(probes)
        for p in probes:
            if p.response_ms is not None:
                report.metrics[f"{p.resolver} response_ms"] = p.response_ms
        return probes

    def _forward(
        self,
        resolver: dns.resolver.Resolver,
        hostname: str,
        local: set[IPAddress],
        report: Report,
    ) -> None:
        forward = read_forward(resolver, hostname)
        report.findings.append(judge_forward(forward, local))
        report.details["forward"] = {
            "addresses": list(forward.addresses),
            "local": sorted(str(a) for a in local),
            "error": forward.error,
        }
        report.metrics["forward_addresses"] = len(forward.addresses)

    def _reverse(
        self,
        resolver: dns.resolver.Resolver,
        hostname: str,
        addresses: list[IPAddress],
        report: Report,
    ) -> None:
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(addresses)))) as pool:
            readings = list(pool.map(lambda a: read_reverse(resolver, a), addresses))
        must_match = self.options.reverse_must_match_hostname
        verdicts = [judge_reverse(r, hostname, must_match) for r in readings]
        report.findings += [v for v in verdicts if v[0] is not Status.OK]
        confirmed = sum(v[0] is Status.OK for v in verdicts)
        if not readings:
            report.findings.append((Status.OK, "no address to check a PTR for"))
        elif confirmed == len(readings):
            report.findings.append((Status.OK, f"{confirmed} of {len(readings)} PTRs confirmed"))
        report.details["reverse"] = {
            r.address: {"status": v[0].name, "reason": v[1], "ptr": list(r.names)}
            for r, v in zip(readings, verdicts, strict=True)
        }
        report.metrics["reverse_confirmed"] = confirmed
        report.metrics["reverse_total"] = len(readings)


def read_forward(resolver: dns.resolver.Resolver, hostname: str) -> ForwardReading:
    """The hostname's A and AAAA records through ``resolver``."""
    try:
        found = addresses_of(resolver, hostname)
    except LookupUndecided as exc:
        return ForwardReading(hostname, error=str(exc))
    return ForwardReading(hostname, found.values, found.missing)
