"""db_replication: is a MariaDB/MySQL or PostgreSQL replica applying its primary's changes?

One configured instance watches one database server. On a replica it reads every
replication connection (MariaDB multi-source, MySQL channels) or the WAL receiver
and replay state (PostgreSQL); on a primary it counts the replicas or standbys
streaming from it. Stopped replication is CRITICAL, lag past ``lag_warning`` /
``lag_critical`` seconds is WARNING / CRITICAL::

    [checks.orders_db]
    type = "db_replication"
    engine = "mariadb"
    credentials_file = "/etc/portacare/orders_db.cnf"   # mode 0600, [client] user/password
    recover_errors = [1062]        # opt-in: skip one event on a duplicate key, at most
    recover_every = 3600           # once an hour per connection

Credentials come from a file only the agent may read; the password is never put
on a command line nor into a result. The engine-specific halves live in
:mod:`.db_replication_mysql` and :mod:`.db_replication_pg`.
"""

from __future__ import annotations

import configparser
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from .base import Check, CheckOptions
from .errors import CheckFailed
from .options import Meta
from .options import field as option_field
from .result import CheckResult, Status

__all__ = [
    "Credentials",
    "DbReplicationCheck",
    "DbReplicationOptions",
    "Finding",
    "Observation",
    "Target",
    "judge_count",
    "judge_lag",
    "load_credentials",
    "parse_credentials",
    "resolve_role",
    "summarise",
]

Engine = Literal["mariadb", "mysql", "postgresql"]
Role = Literal["auto", "primary", "replica"]
MYSQL_ENGINES = ("mariadb", "mysql")


class DbReplicationOptions(CheckOptions):
    """Options of the db_replication check."""

    engine: Annotated[Engine, Meta(description="mariadb, mysql or postgresql")] = "mariadb"
    role: Annotated[
        Role,
        Meta(
            description="auto: a server replicating from another is checked as a replica, "
            "any other as a primary"
        ),
    ] = "auto"
    host: (
        Annotated[
            str,
            Meta(
                description="server host (default: the credentials file's, else the local socket)"
            ),
        ]
        | None
    ) = None
    port: Annotated[int, Meta(ge=1, le=65535, description="server TCP port")] | None = None
    socket: (
        Annotated[
            str, Meta(description="unix socket: MariaDB/MySQL its file, PostgreSQL its directory")
        ]
        | None
    ) = None
    database: Annotated[str, Meta(min_length=1, description="PostgreSQL database to log into")] = (
        "postgres"
    )
    credentials_file: (
        Annotated[
            Path,
            Meta(
                description="TOML or my.cnf-style file with user/password/host/port/socket; "
                "must not be readable by group or others (default: log in without a password)"
            ),
        ]
        | None
    ) = None
    connect_timeout: Annotated[
        float, Meta(gt=0, le=300, description="seconds to connect and query")
    ] = 10
    psql: Annotated[
        str,
        Meta(
            min_length=1,
            description="PostgreSQL: the psql client the check runs (a path, or a name on PATH)",
        ),
    ] = "psql"
    lag_warning: Annotated[float, Meta(ge=0, description="seconds behind that warns")] = 60
    lag_critical: Annotated[float, Meta(ge=0, description="seconds behind that is critical")] = 300
    lag_bytes_warning: (
        Annotated[
            int, Meta(ge=0, description="PostgreSQL: bytes of WAL not yet replayed that warn")
        ]
        | None
    ) = None
    lag_bytes_critical: (
        Annotated[
            int, Meta(ge=0, description="PostgreSQL: bytes of WAL not yet replayed, critical")
        ]
        | None
    ) = None
    expected_replicas: (
        Annotated[
            int,
            Meta(
                ge=0,
                description="replicas/standbys that must be streaming from a primary "
                "(default: at least one; setting it also checks a replica's own replicas)",
            ),
        ]
        | None
    ) = None
    expected_standbys: Annotated[
        list[str],
        Meta(description="PostgreSQL: application_name of each standby that must be streaming"),
    ] = option_field(default_factory=list)
    expected_connections: Annotated[
        list[str],
        Meta(
            description="MariaDB/MySQL replica: connection (channel) names that must exist; "
            "'' is the default connection"
        ),
    ] = option_field(default_factory=list)
    recover_errors: Annotated[
        list[int],
        Meta(
            description="MariaDB/MySQL: SQL-thread error numbers safe to skip one event for "
            "(opt-in; e.g. [1062] duplicate key)"
        ),
    ] = option_field(default_factory=list)
    recover_every: Annotated[
        float,
        Meta(gt=0, description="seconds: at most one recovery per connection in this period"),
    ] = 3600

    def __post_init__(self) -> None:
        problems = []
        if self.lag_warning > self.lag_critical:
            problems.append(
                f"lag_warning ({self.lag_warning:g}) must not exceed "
                f"lag_critical ({self.lag_critical:g})"
            )
        if (
            self.lag_bytes_warning is not None
            and self.lag_bytes_critical is not None
            and self.lag_bytes_warning > self.lag_bytes_critical
        ):
            problems.append("lag_bytes_warning must not exceed lag_bytes_critical")
        if self.engine == "postgresql":
            if self.recover_errors:
                problems.append("recover_errors applies to mariadb and mysql only")
            if self.expected_connections:
                problems.append("expected_connections applies to mariadb and mysql only")
        else:
            if self.expected_standbys:
                problems.append("expected_standbys applies to postgresql only")
            if self.lag_bytes_warning is not None or self.lag_bytes_critical is not None:
                problems.append("lag_bytes_warning/lag_bytes_critical apply to postgresql only")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Credentials:
    """Who to log in as and where, as read from the credentials file."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    socket: str | None = None
    database: str | None = None


_KEYS = {
    "user": "user",
    "username": "user",
    "password": "password",
    "host": "host",
    "port": "port",
    "socket": "socket",
    "database": "database",
    "dbname": "database",
}


def load_credentials(path: Path) -> Credentials:
    """Read a credentials file, refusing one that group or others may access.

    The file is TOML (top-level keys or a ``[client]`` table) or a my.cnf-style
    ``[client]`` section; keys are user, password, host, port, socket, database.
    """
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CheckFailed(
                f"credentials file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 on it"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckFailed(f"cannot read credentials file {path}: {exc.strerror or exc}") from exc
    return parse_credentials(text, str(path))


def parse_credentials(text: str, origin: str = "credentials file") -> Credentials:
    """Parse credentials from TOML or my.cnf text (see :func:`load_credentials`)."""
    values: dict[str, Any]
    try:
        document = tomllib.loads(text)
        client = document.get("client")
        values = client if isinstance(client, dict) else document
    except tomllib.TOMLDecodeError:
        values = _my_cnf_client(text, origin)
    found: dict[str, Any] = {}
    for key, value in values.items():
        name = _KEYS.get(str(key).lower().replace("-", "_"))
        if name is None or isinstance(value, dict):
            continue
        found[name] = value
    if "port" in found:
        try:
            found["port"] = int(found["port"])
        except (TypeError, ValueError):
            raise CheckFailed(f"{origin}: port is not a number") from None
    for key in ("user", "password", "host", "socket", "database"):
        if key in found:
            found[key] = str(found[key])
    return Credentials(**found)


def _my_cnf_client(text: str, origin: str) -> dict[str, Any]:
    """The ``[client]`` section of a my.cnf-style file (values may be quoted)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as exc:
        raise CheckFailed(f"{origin} is neither TOML nor a my.cnf [client] file") from exc
    if not parser.has_section("client"):
        raise CheckFailed(f"{origin} has no [client] section")
    return {k: _unquote(v) for k, v in parser.items("client")}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


@dataclass(frozen=True)
class Target:
    """Where and as whom to connect: options win over the credentials file."""

    user: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    socket: str | None
    database: str

    @classmethod
    def build(cls, options: DbReplicationOptions, creds: Credentials) -> Target:
        return cls(
            user=creds.user,
            password=creds.password,
            host=options.host or creds.host,
            port=options.port or creds.port,
            socket=options.socket or creds.socket,
            database=creds.database or options.database,
        )

    def hide_password(self, text: str) -> str:
        """``text`` with the password, should a library echo it, replaced by stars."""
        if self.password:
            text = text.replace(self.password, "********")
        return text


@dataclass(frozen=True)
class Finding:
    """One verdict about one part of replication, in words for the ticket."""

    status: Status
    text: str


@dataclass
class Observation:
    """What an engine found: verdicts, numbers and facts for the result."""

    role: str
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def resolve_role(configured: Role, replicating: bool) -> Literal["primary", "replica"]:
    """The role to check: the configured one, or for ``auto`` whether it replicates."""
    if configured != "auto":
        return configured
    return "replica" if replicating else "primary"


def judge_lag(seconds: float | None, warning: float, critical: float) -> Status:
    """The status of a replication delay; ``None`` (not measurable) is UNKNOWN."""
    if seconds is None:
        return Status.UNKNOWN
    if seconds >= critical:
        return Status.CRITICAL
    if seconds >= warning:
        return Status.WARNING
    return Status.OK


def judge_count(streaming: int, expected: int | None, noun: str = "replica") -> Finding:
    """How many replicas stream from a primary against how many must (default: one)."""
    needed = 1 if expected is None else expected
    text = f"{streaming} {noun}{'' if streaming == 1 else 's'} streaming"
    if streaming < needed:
        return Finding(Status.CRITICAL, f"{text}, expected {needed}")
    return Finding(Status.OK, text)


def summarise(observation: Observation) -> CheckResult:
    """One result: problems first, worst first; every finding when all is well."""
    findings = observation.findings
    status = Status.worst(f.status for f in findings)
    failing = sorted(
        (f for f in findings if f.status is not Status.OK),
        key=lambda f: -f.status.severity,
    )
    shown = failing or findings
    summary = "; ".join(f.text for f in shown[:3])
    if len(shown) > 3:
        summary += f"; and {len(shown) - 3} more"
    if not failing:
        summary = f"{observation.role} OK: {summary}"
    details = {
        "role": observation.role,
        "findings": [{"status": f.status.name, "text": f.text} for f in findings],
        **observation.details,
    }
    return CheckResult(status, summary, observation.metrics, details)


class DbReplicationCheck(Check[DbReplicationOptions]):
    """Replication health of one MariaDB/MySQL or PostgreSQL server."""

    options_model = DbReplicationOptions
    description = "database replication running and not lagging (MariaDB, MySQL, PostgreSQL)"

    def run(self) -> CheckResult:
        options = self.options
        creds = Credentials()
        if options.credentials_file is not None:
            creds = load_credentials(options.credentials_file)
        target = Target.build(options, creds)
        # Each engine's module is imported only when configured: an agent watching
        # PostgreSQL never loads PyMySQL.
        if options.engine == "postgresql":
            from . import db_replication_pg as engine
        else:
            from . import db_replication_mysql as engine  # type: ignore[no-redef]
        try:
            observation = engine.observe(options, target, self.state, self.context.now())
        except CheckFailed as exc:
            raise CheckFailed(target.hide_password(str(exc))) from None
        return summarise(observation)
