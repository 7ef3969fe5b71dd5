"""firewall: the live packet filter meets what the host is supposed to let in.

Reads the ruleset from nftables (``nft -j list ruleset``) or iptables
(``iptables-save`` and ``ip6tables-save``), walks the input hook for IPv4 and
IPv6 as a new connection from outside would, and judges::

    [checks.firewall]
    required_ports = [22, "443/tcp"]       # must be let in (and something should listen)
    forbidden_ports = ["3306/tcp", 5432]   # must not be let in
    # command_prefix = ["ip", "netns", "exec", "blue"]   # look inside a network namespace

A change of the ruleset since its accepted baseline warns with the rules added
and removed; the first run accepts the baseline, and ``accept_ruleset = "<hash>"``
(the hash is in the warning's details) accepts a reviewed change.

The walk is deliberately simple: a rule matches a probe (family, protocol,
port) always, never, or maybe. Conditions it understands (protocol, destination
port, conntrack state, loopback interface) decide; a source address, another
interface or anything it does not understand makes the rule a *maybe*, so an
accept behind it opens the port only for some sources (``restricted``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import shlex
import socket
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from .base import Check, CheckOptions
from .commands import run_command
from .errors import CheckFailed
from .options import Meta
from .options import field as option_field
from .result import CheckResult, Status, format_time

__all__ = [
    "FirewallCheck",
    "FirewallOptions",
    "Listener",
    "Port",
    "Ruleset",
    "evaluate",
    "parse_iptables_save",
    "parse_nft_json",
    "parse_port",
    "read_proc_listeners",
    "read_proc_tables",
    "psutil_listeners",
]

log = logging.getLogger(__name__)

Family = Literal["ipv4", "ipv6"]
FAMILIES: tuple[Family, ...] = ("ipv4", "ipv6")
_MAX_DEPTH = 32


# --------------------------------------------------------------------------- ports


@dataclass(frozen=True, order=True)
class Port:
    """A transport port: number and protocol (tcp or udp)."""

    number: int
    proto: str

    def __str__(self) -> str:
        return f"{self.number}/{self.proto}"


def parse_port(value: int | str) -> Port:
    """Parse ``22``, ``"22"`` or ``"53/udp"``; a bare number means TCP."""
    text = str(value).strip().lower()
    number, _, proto = text.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise ValueError(f"port {value!r}: protocol must be tcp or udp")
    if not number.isdigit() or not 0 < int(number) < 65536:
        raise ValueError(f"port {value!r}: number must be 1-65535")
    return Port(int(number), proto)


class PortSpec(str):
    """A port option written ``22``, ``"22"`` or ``"53/UDP"``, kept normalised as ``"53/udp"``."""

    __slots__ = ()

    @classmethod
    def parse_option(cls, value: object) -> PortSpec:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # TOML's 22.0 is port 22, as an integer would be
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f'expected a port like 22 or "53/udp", got {value!r}')
        return cls(str(parse_port(value)))


class FirewallOptions(CheckOptions):
    """Options of the firewall check."""

    backend: Annotated[
        Literal["auto", "nftables", "iptables"],
        Meta(
            description="where to read rules; auto: nftables, or iptables when nft is missing, "
            "shows no rules or the tables are managed by iptables-nft"
        ),
    ] = "auto"
    command_prefix: Annotated[
        list[str],
        Meta(description='argv put before every command, e.g. ["ip", "netns", "exec", "blue"]'),
    ] = option_field(default_factory=list)
    nft_command: Annotated[str, Meta(description="nft binary")] = "nft"
    iptables_save_command: Annotated[str, Meta(description="iptables-save binary")] = (
        "iptables-save"
    )
    ip6tables_save_command: Annotated[str, Meta(description="ip6tables-save binary")] = (
        "ip6tables-save"
    )
    command_timeout: Annotated[float, Meta(gt=0, description="seconds each command may take")] = 10
    families: Annotated[list[Family], Meta(min_length=1, description="families to judge")] = (
        option_field(default_factory=lambda: list(FAMILIES))
    )
    require_rules: Annotated[
        bool, Meta(description="CRITICAL when no filtering is loaded at all")
    ] = True
    require_default_deny: Annotated[
        bool, Meta(description="CRITICAL when the input hook accepts a port no rule names")
    ] = True
    required_ports: Annotated[
        list[PortSpec], Meta(description='ports the rules must let in ("22", "53/udp")')
    ] = option_field(default_factory=list)
    forbidden_ports: Annotated[
        list[PortSpec], Meta(description="ports the rules must not let in")
    ] = option_field(default_factory=list)
    check_listening: Annotated[
        bool, Meta(description="compare required/forbidden ports with sockets actually listening")
    ] = True
    listening_source: Annotated[
        Literal["psutil", "proc"],
        Meta(
            description="psutil (this host), or proc: read proc_net_dir/{tcp,tcp6,udp,udp6} "
            "through command_prefix (sockets of a network namespace)"
        ),
    ] = "psutil"
    proc_net_dir: Annotated[Path, Meta(description="where the proc socket tables are")] = Path(
        "/proc/net"
    )
    track_changes: Annotated[
        bool, Meta(description="WARNING when the ruleset left its baseline")
    ] = True
    ignore_chains: Annotated[
        list[str],
        Meta(description='chains (globs) left out of change tracking, e.g. ["f2b-*"] for fail2ban'),
    ] = option_field(default_factory=list)
    accept_ruleset: (
        Annotated[str, Meta(description="hash of a reviewed ruleset to accept as the new baseline")]
        | None
    ) = None

    def __post_init__(self) -> None:
        both = sorted(set(self.required_ports) & set(self.forbidden_ports))
        if both:
            raise ValueError(f"ports both required and forbidden: {', '.join(map(str, both))}")
        if any(not part for part in self.command_prefix):
            raise ValueError("command_prefix must not contain empty arguments")


# --------------------------------------------------------------------------- rule model


class Match(Enum):
    """Whether a rule applies to a probe packet."""

    NEVER = 0
    MAYBE = 1
    ALWAYS = 2


@dataclass(frozen=True)
class Probe:
    """A new connection from outside: family, protocol and port (None: a port no rule names)."""

    family: str
    proto: str
    port: int | None


@dataclass(frozen=True)
class Condition:
    """One thing a rule tests, reduced to what the walk can decide."""

    kind: Literal["proto", "dport", "ctstate", "iface", "family", "scope", "unknown"]
    text: str
    values: frozenset[str] = frozenset()
    negate: bool = False
    ranges: tuple[tuple[int, int], ...] = ()
    proto: str | None = None  # a dport condition of "tcp dport" implies tcp
    family: str | None = None  # an "ip saddr" condition implies IPv4

    def evaluate(self, probe: Probe) -> Match:
        """Always, never or maybe true for ``probe``."""
        if self.family is not None and self.family != probe.family:
            return Match.NEVER
        if self.kind == "dport" and self.proto is not None and self.proto != probe.proto:
            return Match.NEVER
        if self.kind in ("scope", "unknown"):
            return Match.MAYBE
        if self.kind == "iface":
            if all(v == "lo" for v in self.values):
                hit = False  # traffic from outside never arrives on loopback
            else:
                return Match.MAYBE
        elif self.kind == "proto":
            hit = probe.proto in self.values
        elif self.kind == "family":
            hit = probe.family in self.values
        elif self.kind == "ctstate":
            hit = "new" in self.values
        else:  # dport
            hit = probe.port is not None and any(lo <= probe.port <= hi for lo, hi in self.ranges)
        return Match.ALWAYS if hit != self.negate else Match.NEVER


Verdict = Literal["accept", "drop", "reject", "jump", "goto", "return", "none", "other"]


@dataclass(frozen=True)
class Rule:
    """One rule: its conditions, what it does, and a line for humans and diffs."""

    conditions: tuple[Condition, ...]
    verdict: Verdict
    text: str
    target: str | None = None

    def match(self, probe: Probe) -> tuple[Match, list[str]]:
        """How the rule applies to ``probe`` and, when maybe, which conditions limit it."""
        scope: list[str] = []
        for condition in self.conditions:
            result = condition.evaluate(probe)
            if result is Match.NEVER:
                return Match.NEVER, []
            if result is Match.MAYBE:
                scope.append(condition.text)
        return (Match.MAYBE, scope) if scope else (Match.ALWAYS, [])


@dataclass
class Chain:
    """A chain; base chains on the input hook carry a policy and the families they see."""

    table: str
    name: str
    families: frozenset[str]
    hook: str | None = None
    policy: str | None = None
    priority: int = 0
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Ruleset:
    """The live ruleset reduced for judging, plus its normalised form for change tracking."""

    backend: str
    chains: dict[tuple[str, str], Chain] = field(default_factory=dict)
    #: normalised rule lines ("<table> <chain>: <rule>") in order, for hashing and diffs
    lines: list[str] = field(default_factory=list)
    #: rules as written (a verdict map is one rule here, several in ``Chain.rules``)
    rule_count: int = 0

    def input_chains(self, family: str) -> list[Chain]:
        chains = [c for c in self.chains.values() if c.hook == "input" and family in c.families]
        return sorted(chains, key=lambda c: c.priority)

    def filters_anything(self) -> bool:
        """True when any rule exists or an input hook does not accept by default."""
        return self.rule_count > 0 or any(
            c.hook == "input" and c.policy not in (None, "accept") for c in self.chains.values()
        )

    def tracked_lines(self, ignore_chains: Iterable[str]) -> list[str]:
        patterns = list(ignore_chains)
        return [
            line
            for line in self.lines
            if not any(fnmatch(line.split(":", 1)[0].rsplit(" ", 1)[-1], p) for p in patterns)
        ]


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Exposure:
    """How the input hook treats a probe: open, restricted (to some sources) or closed."""

    state: Literal["open", "restricted", "closed"]
    scopes: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.state == "restricted" and self.scopes:
            return f"restricted ({'; '.join(self.scopes)})"
        return self.state


@dataclass
class _Walk:
    verdict: Literal["accept", "drop", "fallthrough"]
    maybe: list[str]


def _walk(ruleset: Ruleset, table: str, name: str, probe: Probe, depth: int) -> _Walk:
    chain = ruleset.chains.get((table, name))
    if chain is None or depth > _MAX_DEPTH:
        return _Walk("fallthrough", [])
    maybe: list[str] = []
    for rule in chain.rules:
        matched, scope = rule.match(probe)
        if matched is Match.NEVER or rule.verdict in ("none", "other"):
            continue
        where = " and ".join(scope)
        if rule.verdict in ("jump", "goto") and rule.target:
            sub = _walk(ruleset, table, rule.target, probe, depth + 1)
            if matched is Match.MAYBE:
                if sub.verdict == "accept":
                    maybe.append(where)
                maybe.extend(f"{where} and {s}" for s in sub.maybe)
                continue
            maybe.extend(sub.maybe)
            if sub.verdict != "fallthrough":
                return _Walk(sub.verdict, maybe)
            if rule.verdict == "goto":
                return _Walk("fallthrough", maybe)
            continue
        if matched is Match.MAYBE:
            if rule.verdict == "accept":
                maybe.append(where)
            continue
        if rule.verdict == "return":
            return _Walk("fallthrough", maybe)
        if rule.verdict in ("accept", "drop", "reject"):
            return _Walk("accept" if rule.verdict == "accept" else "drop", maybe)
    return _Walk("fallthrough", maybe)


def evaluate(ruleset: Ruleset, probe: Probe) -> Exposure:
    """Whether a new connection described by ``probe`` gets through the input hook.

    Every base chain on the hook must let a packet pass (an accept ends only its
    own chain), so one definite drop closes the port whatever the others do.
    """
    chains = ruleset.input_chains(probe.family)
    if not chains:
        return Exposure("open", ("no input chain",))
    scopes: list[str] = []
    all_accept = True
    for chain in chains:
        walk = _walk(ruleset, chain.table, chain.name, probe, 0)
        verdict = walk.verdict
        if verdict == "fallthrough":
            verdict = "drop" if chain.policy == "drop" else "accept"
        if verdict == "drop":
            if not walk.maybe:
                return Exposure("closed")
            all_accept = False
            scopes.extend(walk.maybe)
    if all_accept:
        return Exposure("open")
    return Exposure("restricted", tuple(dict.fromkeys(scopes)))


# --------------------------------------------------------------------------- nftables


_NFT_FAMILIES = {"ip": {"ipv4"}, "ip6": {"ipv6"}, "inet": {"ipv4", "ipv6"}}
_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}
_NON_VERDICT = {"counter", "log", "meta", "mangle", "ct", "notrack", "set", "nftrace"}


def parse_nft_json(text: str) -> Ruleset:
    """The ruleset printed by ``nft -j list ruleset``."""
    try:
        items = json.loads(text).get("nftables", []) if text.strip() else []
    except (json.JSONDecodeError, AttributeError) as exc:
        raise CheckFailed(f"nft printed no valid JSON: {exc}") from exc
    ruleset = Ruleset("nftables")
    sets: dict[tuple[str, str, str], Any] = {}
    for item in items:
        if "set" in item:
            s = item["set"]
            sets[(s["family"], s["table"], s["name"])] = s.get("elem", [])
    for item in items:
        if "chain" in item:
            c = item["chain"]
            table = f"{c['family']} {c['table']}"
            families = frozenset(_NFT_FAMILIES.get(c["family"], set()))
            hook = c.get("hook") if c.get("type", "filter") == "filter" else None
            ruleset.chains[(table, c["name"])] = Chain(
                table,
                c["name"],
                families,
                hook,
                c.get("policy", "accept") if hook else None,
                _priority(c.get("prio", 0)),
            )
            if hook:
                ruleset.lines.append(f"{table} {c['name']}: policy {c.get('policy', 'accept')}")
        elif "rule" in item:
            r = item["rule"]
            table = f"{r['family']} {r['table']}"
            text, rules = _nft_rule(r, sets)
            chain = ruleset.chains.get((table, r["chain"]))
            if chain is not None:
                chain.rules.extend(rules)
            ruleset.lines.append(f"{table} {r['chain']}: {text}")
            ruleset.rule_count += 1
        elif "set" in item:
            s = item["set"]
            if "dynamic" not in (s.get("flags") or []):  # dynamic sets change by design
                elems = sorted(_render(_strip_counters(e)) for e in s.get("elem", []))
                ruleset.lines.append(
                    f"{s['family']} {s['table']} @{s['name']}: {{{', '.join(elems)}}}"
                )
    return ruleset


def _priority(prio: Any) -> int:
    if isinstance(prio, int):
        return prio
    named = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50}
    if isinstance(prio, dict):  # {"+": ["filter", 10]} and the like
        return 0
    return named.get(str(prio), 0)


def _nft_rule(r: dict[str, Any], sets: dict[tuple[str, str, str], Any]) -> tuple[str, list[Rule]]:
    """The rule's text and the rules it amounts to (a verdict map is one rule per element)."""
    conditions: list[Condition] = []
    verdict: Verdict = "none"
    target = None
    texts = []
    vmap: list[Rule] = []
    for expr in r.get("expr", []):
        if not isinstance(expr, dict) or not expr:
            continue
        key, value = next(iter(expr.items()))
        if key == "counter":
            continue
        texts.append(_render(expr))
        if key == "match":
            conditions.append(_nft_condition(value, r["family"], r["table"], sets))
        elif key in ("accept", "drop", "reject", "return"):
            verdict = cast(Verdict, key)
        elif key in ("jump", "goto"):
            verdict, target = cast(Verdict, key), value.get("target")
        elif key == "xt" and value.get("type") == "target":
            name = str(value.get("name", "")).upper()
            verdict = _IPT_VERDICTS.get(name, "other") if name != "RETURN" else "other"
        elif key == "queue":
            verdict = "other"
        elif key == "continue":
            pass
        elif key == "vmap" and isinstance(value.get("data"), dict):
            vmap = _vmap_rules(value, conditions, r, sets)
        elif key not in _NON_VERDICT:  # limit, quota, xt matches: may or may not match
            conditions.append(Condition("unknown", _render(expr)))
    text = " ".join(texts)
    return text, vmap or [Rule(tuple(conditions), verdict, text, target)]


def _vmap_rules(
    vmap: dict[str, Any], before: list[Condition], r: dict[str, Any], sets: dict[Any, Any]
) -> list[Rule]:
    """``tcp dport vmap { 22 : accept, 80 : drop }`` as one rule per element."""
    rules = []
    elements = vmap["data"].get("set", [])
    for element in elements if isinstance(elements, list) else []:
        if not (isinstance(element, list) and len(element) == 2 and element[1]):
            continue
        value, action = element
        key, inner = next(iter(action.items()))
        match = {"op": "==", "left": vmap.get("key"), "right": value}
        condition = _nft_condition(match, r["family"], r["table"], sets)
        verdict: Verdict = (
            key if key in ("accept", "drop", "reject", "jump", "goto", "return") else "other"
        )
        target = inner.get("target") if isinstance(inner, dict) else None
        rules.append(Rule((*before, condition), verdict, _render({"match": match}), target))
    return rules


def _nft_condition(
    m: dict[str, Any], family: str, table: str, sets: dict[tuple[str, str, str], Any]
) -> Condition:
    op, left, right = m.get("op", "=="), m.get("left"), m.get("right")
    text = _render({"match": m})
    negate = op == "!="
    if isinstance(right, str) and right.startswith("@"):
        right = {"set": sets.get((family, table, right[1:]))}
        if right["set"] is None:
            return Condition("unknown", text)
    if not isinstance(left, dict):
        return Condition("unknown", text)
    if "payload" in left:
        proto, fld = left["payload"].get("protocol"), left["payload"].get("field")
        if fld == "dport" and proto in ("tcp", "udp", "th", "sctp", "udplite", "dccp"):
            ranges = _port_ranges(op, right)
            if ranges is None:
                return Condition("unknown", text)
            return Condition(
                "dport",
                text,
                ranges=ranges,
                negate=negate,
                proto=None if proto == "th" else proto,
            )
        fam = {"ip": "ipv4", "ip6": "ipv6"}.get(proto)
        if fld in ("protocol", "nexthdr") and fam:
            return Condition("proto", text, _names(right, _PROTO_NUMBERS), negate, family=fam)
        return Condition("scope", text, family=fam)
    if "meta" in left:
        key = left["meta"].get("key")
        if key == "l4proto":
            return Condition("proto", text, _names(right, _PROTO_NUMBERS), negate)
        if key == "nfproto":
            return Condition("family", text, _names(right, {}), negate)
        if key in ("iif", "iifname"):
            return Condition("iface", text, _names(right, {}), negate)
    if "ct" in left and left["ct"].get("key") == "state":
        return Condition("ctstate", text, _names(right, {}), negate)
    return Condition("unknown", text)


def _names(right: Any, aliases: dict[str, str]) -> frozenset[str]:
    if isinstance(right, dict) and "set" in right:
        right = right["set"]
    values = right if isinstance(right, list) else [right]
    out = set()
    for v in values:
        if isinstance(v, dict) and "elem" in v:
            v = v["elem"].get("val")
        name = str(v).lower()
        out.add(aliases.get(name, name))
    return frozenset(out)


def _port_ranges(op: str, right: Any) -> tuple[tuple[int, int], ...] | None:
    if isinstance(right, int) and op in ("<", "<=", ">", ">="):
        return {
            "<": ((0, right - 1),),
            "<=": ((0, right),),
            ">": ((right + 1, 65535),),
            ">=": ((right, 65535),),
        }[op]
    if isinstance(right, dict) and "set" in right:
        right = right["set"]
    values = right if isinstance(right, list) else [right]
    ranges = []
    for v in values:
        if isinstance(v, dict) and "elem" in v:
            v = v["elem"].get("val")
        if isinstance(v, int):
            ranges.append((v, v))
        elif isinstance(v, dict) and "range" in v and all(isinstance(x, int) for x in v["range"]):
            ranges.append((v["range"][0], v["range"][1]))
        elif isinstance(v, str) and v.isdigit():
            ranges.append((int(v), int(v)))
        else:
            return None
    return tuple(ranges)


def _strip_counters(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_counters(v) for k, v in value.items() if k not in ("counter", "handle")}
    if isinstance(value, list):
        return [_strip_counters(v) for v in value]
    return value


def _render(value: Any) -> str:
    """A compact, stable, nft-like text of one JSON expression."""
    if isinstance(value, list):
        return "{" + ", ".join(_render(v) for v in value) + "}"
    if not isinstance(value, dict):
        return str(value)
    if len(value) != 1:
        return json.dumps(_strip_counters(value), sort_keys=True)
    key, inner = next(iter(value.items()))
    if key == "match":
        op = "" if inner.get("op") in ("==", "in") else f"{inner.get('op')} "
        return f"{_render(inner.get('left'))} {op}{_render(inner.get('right'))}"
    if key == "payload":
        return f"{inner.get('protocol')} {inner.get('field')}"
    if key in ("meta", "ct"):
        return f"{key} {inner.get('key')}"
    if key == "set":
        return _render(inner if isinstance(inner, list) else [inner])
    if key == "range":
        return f"{_render(inner[0])}-{_render(inner[1])}"
    if key == "prefix":
        return f"{inner.get('addr')}/{inner.get('len')}"
    if key == "elem":
        return _render(inner.get("val"))
    if key in ("jump", "goto"):
        return f"{key} {inner.get('target')}"
    if inner is None:
        return key
    return f"{key} {json.dumps(_strip_counters(inner), sort_keys=True)}"


# --------------------------------------------------------------------------- iptables

_IPT_VERDICTS: dict[str, Verdict] = {
    "ACCEPT": "accept",
    "DROP": "drop",
    "REJECT": "reject",
    "RETURN": "return",
}
_IPT_NON_TERMINAL = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "AUDIT", "TRACE", "CT", "NOTRACK"}


def parse_iptables_save(text: str, family: str, ruleset: Ruleset | None = None) -> Ruleset:
    """Add the output of ``iptables-save`` (family ipv4) or ``ip6tables-save`` (ipv6)."""
    ruleset = ruleset or Ruleset("iptables")
    table = ""
    pending: list[tuple[str, str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = f"{family} {line[1:]}"
            continue
        if line.startswith(":"):
            name, policy, *_ = line[1:].split() + ["-"]
            builtin = policy != "-"
            hook = name.lower() if builtin and table.endswith(" filter") else None
            ruleset.chains[(table, name)] = Chain(
                table,
                name,
                frozenset({family}),
                hook,
                policy.lower() if builtin else None,
            )
            if builtin:
                ruleset.lines.append(f"{table} {name}: policy {policy}")
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        if len(tokens) >= 2 and tokens[0] in ("-A", "--append"):
            pending.append((table, tokens[1], tokens[2:]))
            ruleset.rule_count += 1
            ruleset.lines.append(f"{table} {tokens[1]}: {shlex.join(tokens[2:])}")
    # rules may jump to chains declared anywhere in the table, so resolve after reading
    for table_name, chain_name, args in pending:
        chain = ruleset.chains.get((table_name, chain_name))
        if chain is not None:
            chain.rules.append(_ipt_rule(args, table_name, ruleset))
    return ruleset


def _ipt_rule(args: list[str], table: str, ruleset: Ruleset) -> Rule:
    conditions: list[Condition] = []
    verdict: Verdict = "none"
    target = None
    negate = False
    i = 0

    def values_from(j: int) -> tuple[list[str], int]:
        vals = []
        while j < len(args) and not args[j].startswith("-") and args[j] != "!":
            vals.append(args[j])
            j += 1
        return vals, j

    while i < len(args):
        opt = args[i]
        if opt == "!":
            negate = True
            i += 1
            continue
        vals, nxt = values_from(i + 1)
        value = vals[0] if vals else ""
        text = " ".join(["!"] * negate + [opt, *vals])
        if opt in ("-j", "--jump", "-g", "--goto"):
            name = value
            if name in _IPT_VERDICTS:
                verdict = _IPT_VERDICTS[name]
            elif (table, name) in ruleset.chains:
                verdict, target = ("goto" if opt in ("-g", "--goto") else "jump"), name
            else:
                verdict = "none" if name in _IPT_NON_TERMINAL else "other"
            break  # the rest are the target's own options
        if opt in ("-p", "--protocol"):
            if value.lower() != "all":
                conditions.append(
                    Condition("proto", text, frozenset({_PROTO_NUMBERS.get(value, value)}), negate)
                )
        elif opt in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            ranges: list[tuple[int, int]] = []
            for part in value.split(","):
                lo, _, hi = part.partition(":")
                if not lo.isdigit() or (hi and not hi.isdigit()):
                    ranges = []
                    break
                ranges.append((int(lo), int(hi or lo)))
            if ranges:
                conditions.append(Condition("dport", text, ranges=tuple(ranges), negate=negate))
            else:
                conditions.append(Condition("unknown", text))
        elif opt in ("--ctstate", "--state"):
            states = frozenset(v.lower() for v in value.split(","))
            conditions.append(Condition("ctstate", text, states, negate))
        elif opt in ("-i", "--in-interface"):
            conditions.append(Condition("iface", text, frozenset({value}), negate))
        elif opt in ("-s", "--source", "-d", "--destination"):
            conditions.append(Condition("scope", text))
        elif opt in ("-m", "--match", "--comment", "--syn"):
            pass  # a module name, a remark, or SYN (which every new connection carries)
        elif opt.startswith("-"):
            conditions.append(Condition("unknown", text))
        negate = False
        i = nxt
    return Rule(tuple(conditions), verdict, shlex.join(args), target)


# --------------------------------------------------------------------------- listening sockets


@dataclass(frozen=True, order=True)
class Listener:
    """A socket waiting for connections (TCP LISTEN, or a bound unconnected UDP socket)."""

    proto: str
    address: str
    port: int
    process: str | None = None

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.address.split("%")[0]).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        who = f" ({self.process})" if self.process else ""
        return f"{host}:{self.port}/{self.proto}{who}"


def psutil_listeners() -> list[Listener]:
    """This host's listening sockets, with process names where they can be read."""
    import psutil  # here, not at import: an agent without this check never loads it

    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied as exc:
        raise CheckFailed(f"not allowed to list sockets: {exc}") from exc
    names: dict[int, str | None] = {}
    found = set()
    for conn in conns:
        if conn.type == socket.SOCK_STREAM and conn.status != psutil.CONN_LISTEN:
            continue
        if conn.type == socket.SOCK_DGRAM and conn.raddr:
            continue
        proto = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
        if conn.pid is not None and conn.pid not in names:
            try:
                names[conn.pid] = psutil.Process(conn.pid).name()
            except psutil.Error:
                names[conn.pid] = None
        process = names.get(conn.pid) if conn.pid is not None else None
        found.add(Listener(proto, conn.laddr.ip, conn.laddr.port, process))
    return sorted(found)


def read_proc_listeners(texts: dict[str, str]) -> list[Listener]:
    """Listening sockets from /proc/net tables keyed by their name (tcp, tcp6, udp, udp6)."""
    found = set()
    for name, text in texts.items():
        proto = "tcp" if name.startswith("tcp") else "udp"
        wanted = "0A" if proto == "tcp" else "07"  # LISTEN; UDP "closed" = bound, unconnected
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != wanted:
                continue
            local, remote = fields[1], fields[2]
            if proto == "udp" and not remote.endswith(":0000"):
                continue
            addr_hex, port_hex = local.rsplit(":", 1)
            found.add(Listener(proto, _proc_address(addr_hex), int(port_hex, 16)))
    return sorted(found)


def read_proc_tables(
    names: Sequence[str], proc_net_dir: Path, prefix: Sequence[str], timeout: float
) -> dict[str, str]:
    """The text of /proc/net socket tables, read with ``cat`` through ``prefix`` if one is set.

    A missing IPv6 table (IPv6 disabled) is skipped; a missing IPv4 one is an error.
    """
    texts = {}
    for name in names:
        path = proc_net_dir / name
        if prefix:
            out = run_command([*prefix, "cat", str(path)], timeout=timeout)
            if out.returncode == 0:
                texts[name] = out.stdout
                continue
            reason = out.stderr.strip()
        else:
            try:
                texts[name] = path.read_text(encoding="ascii")
                continue
            except OSError as exc:
                reason = str(exc.strerror or exc)
        if not name.endswith("6"):
            raise CheckFailed(f"cannot read {path}: {reason}")
    return texts


def _proc_address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    # the kernel prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Finding:
    status: Status
    text: str


class FirewallCheck(Check[FirewallOptions]):
    """Input policy, required and forbidden ports, and changes of the live ruleset."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 300

    options_model = FirewallOptions
    description = "packet filter: default deny, required/forbidden ports, ruleset changes"

    def _command(self, argv: list[str]) -> str:
        full = [*self.options.command_prefix, *argv]
        out = run_command(full, timeout=self.options.command_timeout)
        if out.returncode != 0:
            reason = (out.stderr or out.stdout).strip().splitlines()
            raise CheckFailed(
                f"{shlex.join(full)} exited {out.returncode}: {reason[-1] if reason else ''}"
            )
        return out.stdout

    def read_ruleset(self) -> Ruleset:
        """The live ruleset from the configured backend."""
        backend = self.options.backend
        nft: Ruleset | None = None
        nft_error: CheckFailed | None = None
        if backend in ("auto", "nftables"):
            try:
                nft = parse_nft_json(
                    self._command([self.options.nft_command, "-j", "list", "ruleset"])
                )
            except CheckFailed as exc:
                if backend == "nftables":
                    raise
                nft_error = exc
            else:
                # iptables-nft tables show as opaque "xt" expressions: iptables-save reads them
                managed_by_iptables = any(" xt " in f" {line} " for line in nft.lines)
                if backend == "nftables" or (nft.filters_anything() and not managed_by_iptables):
                    return nft
        try:
            ruleset = parse_iptables_save(
                self._command([self.options.iptables_save_command]), "ipv4"
            )
            ruleset = parse_iptables_save(
                self._command([self.options.ip6tables_save_command]), "ipv6", ruleset
            )
        except CheckFailed as exc:
            if nft is not None:
                return nft  # iptables missing or broken: the nftables view is still true
            if nft_error is not None:
                raise CheckFailed(f"neither nftables ({nft_error}) nor iptables ({exc})") from exc
            raise
        if nft is not None and not ruleset.filters_anything():
            return nft  # nothing anywhere: say so in the preferred backend's words
        return ruleset

    def listening(self) -> list[Listener]:
        """Sockets listening where the rules apply (this host, or the prefix's namespace)."""
        o = self.options
        if o.listening_source == "psutil":
            return psutil_listeners()
        tables = ("tcp", "tcp6", "udp", "udp6")
        texts = read_proc_tables(tables, o.proc_net_dir, o.command_prefix, o.command_timeout)
        return read_proc_listeners(texts)

    def run(self) -> CheckResult:
        ruleset = self.read_ruleset()
        findings, details = judge_ruleset(ruleset, self.options, self._listening_or_none())
        if self.options.track_changes:
            findings.extend(self._track(ruleset, details))
        metrics = {"rules": float(ruleset.rule_count)}
        return summarise(ruleset, findings, metrics, details)

    def _listening_or_none(self) -> list[Listener] | None:
        o = self.options
        wanted = o.check_listening and (o.required_ports or o.forbidden_ports)
        return self.listening() if wanted else None

    def _track(self, ruleset: Ruleset, details: dict[str, Any]) -> list[Finding]:
        lines = ruleset.tracked_lines(self.options.ignore_chains)
        digest = ruleset_hash(ruleset.backend, lines)
        details["ruleset_hash"] = digest
        state = self.state.load()
        baseline = state.get("baseline")
        if (
            not isinstance(baseline, dict)
            or baseline.get("hash") == digest
            or self.options.accept_ruleset == digest
        ):
            if not isinstance(baseline, dict) or baseline.get("hash") != digest:
                when = format_time(self.context.now())
                state["baseline"] = {"hash": digest, "lines": lines, "accepted_at": when}
                self.state.save(state)
                details["baseline_accepted"] = when
            return []
        added, removed = diff_lines(baseline.get("lines", []), lines)
        details["changes"] = {
            "baseline_hash": baseline.get("hash"),
            "accepted_at": baseline.get("accepted_at"),
            "added": added[:50],
            "removed": removed[:50],
            "accept_with": f'accept_ruleset = "{digest}"',
        }
        return [
            Finding(
                Status.WARNING,
                f"ruleset changed since baseline of {baseline.get('accepted_at')}: "
                f"{_count(len(added), 'rule')} added, {len(removed)} removed",
            )
        ]


def ruleset_hash(backend: str, lines: list[str]) -> str:
    """SHA-256 of the normalised ruleset (counters and handles already left out)."""
    return hashlib.sha256("\n".join([backend, *lines]).encode()).hexdigest()


def diff_lines(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """Lines added and removed between two rulesets, counting duplicates."""
    old, new = Counter(before), Counter(after)
    added = [line for line in after if (new - old)[line] > 0]
    removed = [line for line in before if (old - new)[line] > 0]
    return list(dict.fromkeys(added)), list(dict.fromkeys(removed))


def judge_ruleset(
    ruleset: Ruleset, options: FirewallOptions, listeners: list[Listener] | None
) -> tuple[list[Finding], dict[str, Any]]:
    """What is wrong with ``ruleset`` against the expectations (change tracking aside)."""
    findings: list[Finding] = []
    details: dict[str, Any] = {"backend": ruleset.backend, "rules": ruleset.rule_count}
    if options.require_rules and not ruleset.filters_anything():
        findings.append(Finding(Status.CRITICAL, f"no firewall rules loaded ({ruleset.backend})"))
    defaults: dict[str, str] = {}
    for family in options.families:
        worst = min(
            (evaluate(ruleset, Probe(family, proto, None)) for proto in ("tcp", "udp")),
            key=lambda e: ("open", "restricted", "closed").index(e.state),
        )
        defaults[family] = str(worst)
        if options.require_default_deny and worst.state == "open":
            findings.append(Finding(Status.CRITICAL, f"{family} input accepts by default"))
    details["default"] = defaults
    exposed = {(lis.proto, lis.port) for lis in listeners or [] if not lis.loopback}
    if listeners is not None:
        details["listening"] = [str(lis) for lis in listeners]
    ports: dict[str, dict[str, Any]] = {}
    for spec, required in [(p, True) for p in options.required_ports] + [
        (p, False) for p in options.forbidden_ports
    ]:
        port = parse_port(spec)
        seen = {f: evaluate(ruleset, Probe(f, port.proto, port.number)) for f in options.families}
        entry: dict[str, Any] = {f: str(e) for f, e in seen.items()}
        entry["expected"] = "open" if required else "closed"
        listening = None if listeners is None else (port.proto, port.number) in exposed
        entry["listening"] = listening
        ports[str(port)] = entry
        let_in = [f for f, e in seen.items() if e.state != "closed"]
        if required:
            blocked = [f for f in options.families if f not in let_in]
            if blocked:
                findings.append(
                    Finding(Status.CRITICAL, f"required port {port} blocked ({', '.join(blocked)})")
                )
            elif listening is False:
                findings.append(
                    Finding(Status.WARNING, f"required port {port} allowed but nothing listens")
                )
        elif let_in:
            how = ", ".join(f"{f} {seen[f]}" for f in let_in)
            if listening is False:
                findings.append(
                    Finding(
                        Status.WARNING,
                        f"forbidden port {port} let in ({how}) though nothing listens",
                    )
                )
            else:
                findings.append(Finding(Status.CRITICAL, f"forbidden port {port} open ({how})"))
    details["ports"] = ports
    return findings, details


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summarise(
    ruleset: Ruleset, findings: list[Finding], metrics: dict[str, float], details: dict[str, Any]
) -> CheckResult:
    """One result: the most severe findings first, or what was verified."""
    details["findings"] = [{"status": f.status.name, "text": f.text} for f in findings]
    metrics["findings"] = float(len(findings))
    if findings:
        ordered = sorted(findings, key=lambda f: -f.status.severity)
        status = ordered[0].status
        summary = "; ".join(f.text for f in ordered)
    else:
        status = Status.OK
        defaults = ", ".join(f"{f} {s}" for f, s in details.get("default", {}).items())
        summary = (
            f"firewall as expected ({ruleset.backend}, {_count(ruleset.rule_count, 'rule')}; "
            f"default: {defaults})"
        )
        checked = list(details.get("ports", {}))
        if checked:
            summary += f"; ports checked: {', '.join(checked)}"
        if "baseline_accepted" in details:
            summary += "; ruleset accepted as baseline"
    return CheckResult(status, summary, metrics, details)
