"""The agent's TOML configuration, validated whole before anything runs.

Shape (see DESIGN.md)::

    [agent]
    collector = "https://noc.example.net:8470"
    host = "sw1.example.net"          # default: this host's FQDN
    token_file = "/etc/portacare/agent.token"
    state_dir = "/var/lib/portacare"
    interval = 60

    [checks.disk]
    warning = 85

    [checks.orders_db]                # a second instance of a check
    type = "db_replication"

Every problem, in ``[agent]`` and in every check table, is collected into one
:class:`ConfigError` so a bad file is fixed in one pass.
"""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from portacare.checks import Check, CheckDiscoveryError, CheckOptions, CheckRegistry
from portacare.checks.options import Meta, Options, OptionsError, field, parse_options

from .errors import ConfigError

__all__ = ["AgentSettings", "AgentConfig", "CheckInstance", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path("/etc/portacare/agent.toml")


class CollectorURL(str):
    """The collector's base URL: http:// or https://, without a trailing slash."""

    @classmethod
    def parse_option(cls, value: object) -> CollectorURL:
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, not {value!r}")
        return cls(value.rstrip("/"))


class AgentSettings(Options):
    """The ``[agent]`` table."""

    collector: Annotated[
        CollectorURL, Meta(description="base URL of the collector, e.g. https://noc:8470")
    ]
    host: Annotated[str, Meta(min_length=1, max_length=253)] = field(
        default_factory=lambda: this_host()
    )
    token_file: Path = Path("/etc/portacare/agent.token")
    state_dir: Path = Path("/var/lib/portacare")
    interval: Annotated[float, Meta(gt=0, le=86400, description="default seconds between runs")] = (
        60
    )
    startup_jitter: (
        Annotated[
            float,
            Meta(
                ge=0,
                description="spread first runs over this many seconds (default: interval, max 15)",
            ),
        ]
        | None
    ) = None
    push_interval: Annotated[float, Meta(gt=0, le=3600, description="seconds between pushes")] = 10
    batch_size: Annotated[int, Meta(gt=0, le=1000, description="results per pushed batch")] = 100
    request_timeout: Annotated[float, Meta(gt=0, le=300)] = 15
    retry_max_delay: Annotated[
        float,
        Meta(gt=0, le=3600, description="longest wait between pushes while the collector is away"),
    ] = 300
    ca_file: Annotated[Path, Meta(description="CA bundle to verify the collector's TLS")] | None = (
        None
    )
    workers: Annotated[int, Meta(ge=1, le=32, description="checks run at the same time")] = 4
    spool_max_mb: Annotated[
        float, Meta(gt=0, description="spool bound; when full, old OK results go")
    ] = 50
    replay_rate: Annotated[
        float,
        Meta(gt=0, description="batches per second at most while catching up after an outage"),
    ] = 20


@dataclass(frozen=True)
class CheckInstance:
    """One configured check: the name it reports under, its type and validated options."""

    name: str
    check_type: type[Check]
    options: CheckOptions

    @property
    def type_name(self) -> str:
        return self.check_type.name


@dataclass(frozen=True)
class AgentConfig:
    """The whole validated configuration."""

    agent: AgentSettings
    checks: tuple[CheckInstance, ...]
    source: str

    def enabled_checks(self) -> list[CheckInstance]:
        return [c for c in self.checks if c.options.enabled]

    def timeout_of(self, instance: CheckInstance) -> float:
        """The configured timeout, else the check's interval, at most 60 seconds."""
        return instance.options.timeout or min(self.interval_of(instance), 60.0)

    def interval_of(self, instance: CheckInstance) -> float:
        """The configured interval, else the check's own default, else the agent's."""
        return (
            instance.options.interval or instance.check_type.default_interval or self.agent.interval
        )


def this_host() -> str:
    """This host's fully qualified name, or its plain name where the FQDN is only "localhost"."""
    fqdn = socket.getfqdn()
    if fqdn.startswith("localhost") or fqdn in {"", "::1", "127.0.0.1"}:
        return socket.gethostname()
    return fqdn


def load_config(path: Path, registry: CheckRegistry) -> AgentConfig:
    """Read and validate the agent's TOML file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from exc
    return parse_config(raw, registry, str(path))


def parse_config(raw: Mapping[str, Any], registry: CheckRegistry, source: str) -> AgentConfig:
    """Validate a parsed configuration; ConfigError lists every problem found."""
    problems: list[str] = []
    unknown_tables = sorted(set(raw) - {"agent", "checks"})
    problems += [f"{t}: unknown table (expected [agent] and [checks.NAME])" for t in unknown_tables]
    agent: AgentSettings | None = None
    try:
        agent = parse_options(AgentSettings, raw.get("agent", {}))
    except OptionsError as exc:
        problems += _describe("agent", exc)
    checks: list[CheckInstance] = []
    tables = raw.get("checks", {})
    if not isinstance(tables, Mapping):
        problems.append("checks: must be a table of [checks.NAME] tables")
        tables = {}
    for name, table in tables.items():
        instance, errors = _check_instance(name, table, registry)
        problems += errors
        if instance is not None:
            checks.append(instance)
    if problems or agent is None:
        raise ConfigError(source, problems)
    return AgentConfig(agent, tuple(checks), source)


def _check_instance(
    name: str, table: Any, registry: CheckRegistry
) -> tuple[CheckInstance | None, list[str]]:
    where = f"checks.{name}"
    if not isinstance(table, Mapping):
        return None, [f"{where}: must be a table"]
    options = dict(table)
    type_name = options.pop("type", name)
    if not isinstance(type_name, str):
        return None, [f"{where}.type: must be a check name"]
    try:
        check_type = registry.get(type_name)  # imports that check's module, and no other
    except CheckDiscoveryError as exc:
        return None, [f"{where}: {exc}"]
    try:
        validated = parse_options(check_type.options_model, options)
    except OptionsError as exc:
        return None, _describe(where, exc)
    return CheckInstance(name, check_type, validated), []


def _describe(prefix: str, exc: OptionsError) -> list[str]:
    return [
        f"{prefix}.{problem.location}: {problem.message}"
        if problem.location
        else f"{prefix}: {problem.message}"
        for problem in exc.problems
    ]
