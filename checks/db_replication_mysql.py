"""The MariaDB/MySQL half of db_replication: replication connections, replicas, recovery.

A replica may replicate from several primaries (MariaDB multi-source connections,
MySQL channels); each connection is judged on its own. MariaDB names the status
columns ``Slave_*``/``Master_*``, MySQL 8.0.22+ ``Replica_*``/``Source_*``: both are
read, so one parser serves every version::

    channel = channel_from_row(row)        # a row of SHOW ALL SLAVES STATUS
    finding = judge_channel(channel, "connection", 60, 300)

Recovery is opt-in: a SQL thread stopped on an error number listed in
``recover_errors`` gets one event skipped and is restarted, at most once per
``recover_every`` per connection, and the result says exactly what was run.
"""

from __future__ import annotations

import contextlib
import getpass
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors

from .base import CheckState
from .db_replication import (
    Finding,
    Observation,
    Target,
    judge_count,
    judge_lag,
    resolve_role,
)
from .errors import CheckFailed
from .result import Status, format_time, parse_time

if TYPE_CHECKING:
    from .db_replication import DbReplicationOptions

__all__ = [
    "ReplicaChannel",
    "channel_from_row",
    "judge_channel",
    "observe",
    "recovery_due",
    "recovery_statements",
    "show_statements",
]

_ERROR_TEXT_MAX = 200
# Server errors meaning "this statement does not exist here": try the older spelling.
_SYNTAX_ERRORS = {1064, 1149}


@dataclass(frozen=True)
class ReplicaChannel:
    """One replication connection of a replica, whatever the server calls its columns."""

    name: str
    io_running: str  # Yes, No, Connecting
    sql_running: str  # Yes, No
    seconds_behind: int | None
    last_io_errno: int
    last_io_error: str
    last_sql_errno: int
    last_sql_error: str
    source: str
    using_gtid: str
    gtid_io_pos: str
    gtid_slave_pos: str
    sql_delay: int
    modern_names: bool  # Replica_*/Source_* columns (MySQL 8.0.22 and later)

    @property
    def stopped(self) -> bool:
        return self.io_running != "Yes" or self.sql_running != "Yes"


def _col(row: dict[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in row:
            return row[name]
    return default


def channel_from_row(row: dict[str, Any]) -> ReplicaChannel:
    """A status row of SHOW [ALL] SLAVE/REPLICA(S) STATUS as a :class:`ReplicaChannel`."""
    modern = "Replica_IO_Running" in row
    seconds = _col(row, "Seconds_Behind_Source", "Seconds_Behind_Master")
    host = _col(row, "Source_Host", "Master_Host", default="")
    port = _col(row, "Source_Port", "Master_Port", default="")
    auto_position = _col(row, "Auto_Position")
    using_gtid = _col(row, "Using_Gtid")
    if using_gtid is None:
        using_gtid = "Auto_Position" if auto_position else "No"
    return ReplicaChannel(
        name=str(_col(row, "Connection_name", "Channel_Name", "Channel_name", default="") or ""),
        io_running=str(_col(row, "Replica_IO_Running", "Slave_IO_Running", default="No")),
        sql_running=str(_col(row, "Replica_SQL_Running", "Slave_SQL_Running", default="No")),
        seconds_behind=None if seconds is None else int(seconds),
        last_io_errno=int(_col(row, "Last_IO_Errno", default=0) or 0),
        last_io_error=str(_col(row, "Last_IO_Error", default="") or ""),
        last_sql_errno=int(_col(row, "Last_SQL_Errno", default=0) or 0),
        last_sql_error=str(_col(row, "Last_SQL_Error", default="") or ""),
        source=f"{host}:{port}" if host else "",
        using_gtid=str(using_gtid),
        gtid_io_pos=str(_col(row, "Gtid_IO_Pos", "Retrieved_Gtid_Set", default="") or ""),
        gtid_slave_pos=str(_col(row, "Gtid_Slave_Pos", "Executed_Gtid_Set", default="") or ""),
        sql_delay=int(_col(row, "SQL_Delay", default=0) or 0),
        modern_names=modern,
    )


def label(channel: ReplicaChannel, word: str) -> str:
    """How the summary names a connection: ``default connection`` or ``connection 'x'``."""
    return f"{word} '{channel.name}'" if channel.name else f"default {word}"


def _error(errno: int, text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _ERROR_TEXT_MAX:
        text = text[: _ERROR_TEXT_MAX - 1] + "…"
    return f"error {errno}: {text}" if text else f"error {errno}"


def judge_channel(
    channel: ReplicaChannel, word: str, lag_warning: float, lag_critical: float
) -> Finding:
    """The verdict on one replication connection: stopped threads, then lag."""
    name = label(channel, word)
    problems = []
    if channel.sql_running != "Yes":
        stop = "SQL thread stopped"
        if channel.last_sql_errno:
            stop += f" on {_error(channel.last_sql_errno, channel.last_sql_error)}"
        problems.append(stop)
    if channel.io_running != "Yes":
        state = "connecting" if channel.io_running == "Connecting" else "stopped"
        io = f"IO thread {state}"
        if channel.last_io_errno:
            io += f" ({_error(channel.last_io_errno, channel.last_io_error)})"
        problems.append(io)
    if problems:
        return Finding(Status.CRITICAL, f"{name}: {', '.join(problems)}")
    lag = channel.seconds_behind
    source = f" {channel.source}" if channel.source else ""
    if lag is None:
        return Finding(
            Status.UNKNOWN, f"{name}: threads running but lag unknown (Seconds_Behind NULL)"
        )
    text = f"{name}: {lag} s behind primary{source}"
    if channel.sql_delay:
        # A delayed replica (MASTER_DELAY) lags on purpose: only lag beyond the
        # delay is a problem.
        lag = max(0, lag - channel.sql_delay)
        text += f", {lag} s beyond its configured delay of {channel.sql_delay} s"
    status = judge_lag(lag, lag_warning, lag_critical)
    if status is Status.CRITICAL:
        text += f" (critical at {lag_critical:g} s)"
    elif status is Status.WARNING:
        text += f" (warning at {lag_warning:g} s)"
    return Finding(status, text)


def recovery_due(last_at: datetime | None, now: datetime, every_s: float) -> bool:
    """True when no recovery ran for this connection within the last ``every_s`` seconds."""
    return last_at is None or now - last_at >= timedelta(seconds=every_s)


def recovery_statements(
    channel: ReplicaChannel, engine: str
) -> list[tuple[str, tuple[Any, ...] | None]]:
    """The statements that skip one event and restart the SQL thread of ``channel``.

    MariaDB keeps one skip counter per connection, chosen by the session's
    ``default_master_connection``; with GTID the skipped event's GTID still enters
    ``gtid_slave_pos``, so the position stays consistent. MySQL has one global
    counter and restarts a channel by name.
    """
    if engine == "mariadb":
        return [
            ("SET @@SESSION.default_master_connection = %s", (channel.name,)),
            ("SET GLOBAL sql_slave_skip_counter = 1", None),
            ("START SLAVE SQL_THREAD", None),
        ]
    replica = "REPLICA" if channel.modern_names else "SLAVE"
    counter = "sql_replica_skip_counter" if channel.modern_names else "sql_slave_skip_counter"
    start = f"START {replica} SQL_THREAD"
    if channel.name:
        return [
            (f"SET GLOBAL {counter} = 1", None),
            (f"{start} FOR CHANNEL %s", (channel.name,)),
        ]
    return [(f"SET GLOBAL {counter} = 1", None), (start, None)]


def show_statements(statements: list[tuple[str, tuple[Any, ...] | None]]) -> str:
    """The statements as a person would type them (string arguments in single quotes)."""
    parts = []
    for sql, args in statements:
        if args:
            quoted = tuple("'" + str(a).replace("'", "''") + "'" for a in args)
            sql = sql % quoted
        parts.append(sql)
    return "; ".join(parts)


class _Server:
    """A monitoring connection to one server; library errors become CheckFailed."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        kwargs: dict[str, Any] = {
            # As the mysql client does: without a user, the OS account (unix_socket auth).
            "user": target.user or getpass.getuser(),
            "password": target.password or "",
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "write_timeout": timeout,
            "autocommit": True,
            "cursorclass": pymysql.cursors.DictCursor,
        }
        if target.socket and not target.host:
            kwargs["unix_socket"] = target.socket
        else:
            kwargs["host"] = target.host or "localhost"
            kwargs["port"] = target.port or 3306
        where = kwargs.get("unix_socket") or f"{kwargs['host']}:{kwargs['port']}"
        try:
            self.conn = pymysql.connect(**kwargs)
        except pymysql.Error as exc:
            raise CheckFailed(self._say(f"cannot connect to {where}", exc)) from None

    def _say(self, what: str, exc: BaseException) -> str:
        return self.target.hide_password(f"{what}: {_reason(exc)}")

    def rows(self, *statements: str) -> list[dict[str, Any]]:
        """Rows of the first statement the server understands (newer spelling first)."""
        last: pymysql.Error | None = None
        for sql in statements:
            try:
                with self.conn.cursor() as cursor:
                    cursor.execute(sql)
                    return list(cursor.fetchall())
            except pymysql.err.ProgrammingError as exc:
                if exc.args and exc.args[0] in _SYNTAX_ERRORS:
                    last = exc
                    continue
                raise CheckFailed(self._say(f"{statements[0]} failed", exc)) from None
            except pymysql.Error as exc:
                raise CheckFailed(self._say(f"{statements[0]} failed", exc)) from None
        assert last is not None
        raise CheckFailed(self._say(f"{statements[0]} is not understood", last))

    def try_rows(self, sql: str) -> list[dict[str, Any]] | str:
        """Rows, or the reason the server refused (a missing privilege is not fatal here)."""
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        except pymysql.Error as exc:
            return self.target.hide_password(_reason(exc))

    def execute(self, sql: str, args: tuple[Any, ...] | None) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, args)

    def close(self) -> None:
        with contextlib.suppress(pymysql.Error):
            self.conn.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, pymysql.Error) and len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return str(exc) or type(exc).__name__


def read_channels(server: _Server, engine: str) -> list[ReplicaChannel]:
    """Every replication connection of the server (none on a server that is no replica)."""
    if engine == "mariadb":
        rows = server.rows("SHOW ALL REPLICAS STATUS", "SHOW ALL SLAVES STATUS")
    else:
        rows = server.rows("SHOW REPLICA STATUS", "SHOW SLAVE STATUS")
    return [channel_from_row(row) for row in rows]


def read_replicas(server: _Server, engine: str) -> tuple[int, dict[str, Any]]:
    """How many replicas stream from this server, and what is known of each.

    Binlog dump threads in the process list are the replicas connected right now
    (needs PROCESS); the registered hosts list is the fallback when it is not granted.
    """
    dumps = server.try_rows(
        "SELECT HOST, USER, TIME, STATE FROM information_schema.PROCESSLIST"
        " WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')"
    )
    hosts_sql = "SHOW REPLICA HOSTS" if engine == "mariadb" else "SHOW REPLICAS"
    hosts = server.try_rows(hosts_sql)
    if isinstance(hosts, str):
        hosts = server.try_rows("SHOW SLAVE HOSTS")
    if isinstance(dumps, str) and isinstance(hosts, str):
        raise CheckFailed(f"cannot list replicas: {dumps}; {hosts}")
    if isinstance(hosts, str) and not dumps and not _may_see_all_threads(server):
        # Without PROCESS the process list shows only our own threads: an empty
        # list would read as "no replica connected" when it means "cannot see".
        raise CheckFailed(
            "cannot see the replicas: the monitoring user needs the PROCESS privilege "
            f"(the replica hosts list was refused too: {hosts})"
        )
    dump_rows = dumps if isinstance(dumps, list) else []
    host_rows = hosts if isinstance(hosts, list) else []
    details: dict[str, Any] = {
        "binlog_dump_threads": [
            {"host": r["HOST"], "user": r["USER"], "state": r["STATE"]} for r in dump_rows
        ],
        "registered_replicas": [
            {str(k).lower(): v for k, v in r.items() if k in ("Server_id", "Host", "Port")}
            for r in host_rows
        ],
    }
    for key, refused in (("binlog_dump_threads", dumps), ("registered_replicas", hosts)):
        if isinstance(refused, str):
            details[key] = f"not available: {refused}"
    return max(len(dump_rows), len(host_rows)), details


def _may_see_all_threads(server: _Server) -> bool:
    """True when the logged-in account holds PROCESS (or SUPER) globally."""
    rows = server.try_rows(
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"
        " WHERE PRIVILEGE_TYPE IN ('PROCESS', 'SUPER') AND GRANTEE = CONCAT("
        "'''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''',"
        " SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"
    )
    return isinstance(rows, list) and bool(rows)


def observe(
    options: DbReplicationOptions, target: Target, state: CheckState, now: datetime
) -> Observation:
    """Look at one MariaDB/MySQL server and judge its replication."""
    server = _Server(target, options.connect_timeout)
    try:
        return _observe(server, options, state, now)
    finally:
        server.close()


def _observe(
    server: _Server, options: DbReplicationOptions, state: CheckState, now: datetime
) -> Observation:
    engine = options.engine
    word = "connection" if engine == "mariadb" else "channel"
    channels = read_channels(server, engine)
    role = resolve_role(options.role, bool(channels))
    observation = Observation(role=role)
    if role == "replica":
        if not channels:
            observation.findings.append(
                Finding(Status.CRITICAL, "not replicating: no replication is configured")
            )
        recoveries = _recover(server, options, channels, word, state, now)
        if any(r.get("done") for r in recoveries.values()):
            channels = read_channels(server, engine)  # judge what recovery left
        _judge_channels(observation, channels, recoveries, options, word)
    if role == "primary" or options.expected_replicas is not None:
        count, details = read_replicas(server, engine)
        observation.findings.append(judge_count(count, options.expected_replicas))
        observation.metrics["replicas_streaming"] = count
        observation.details["replicas"] = details
    return observation


def _judge_channels(
    observation: Observation,
    channels: list[ReplicaChannel],
    recoveries: dict[str, dict[str, Any]],
    options: DbReplicationOptions,
    word: str,
) -> None:
    seen = {c.name for c in channels}
    for missing in options.expected_connections:
        if missing not in seen:
            name = f"{word} '{missing}'" if missing else f"default {word}"
            observation.findings.append(Finding(Status.CRITICAL, f"{name} is not configured"))
    channel_details = {}
    for channel in channels:
        finding = judge_channel(channel, word, options.lag_warning, options.lag_critical)
        recovery = recoveries.get(channel.name)
        if recovery is not None:
            finding = _with_recovery(finding, recovery)
        observation.findings.append(finding)
        key = channel.name or "default"
        observation.metrics[f"{key} io_running"] = int(channel.io_running == "Yes")
        observation.metrics[f"{key} sql_running"] = int(channel.sql_running == "Yes")
        if channel.seconds_behind is not None:
            observation.metrics[f"{key} seconds_behind"] = channel.seconds_behind
        channel_details[key] = {
            "status": finding.status.name,
            "source": channel.source,
            "io_running": channel.io_running,
            "sql_running": channel.sql_running,
            "seconds_behind": channel.seconds_behind,
            "last_io_errno": channel.last_io_errno,
            "last_io_error": channel.last_io_error,
            "last_sql_errno": channel.last_sql_errno,
            "last_sql_error": channel.last_sql_error,
            "using_gtid": channel.using_gtid,
            "gtid_io_pos": channel.gtid_io_pos,
            "gtid_slave_pos": channel.gtid_slave_pos,
            "sql_delay": channel.sql_delay,
        }
    observation.details[f"{word}s"] = channel_details
    if recoveries:
        observation.details["recovery"] = recoveries


def _with_recovery(finding: Finding, recovery: dict[str, Any]) -> Finding:
    if recovery.get("done"):
        # Skipping an event leaves the replica different from its primary: a person
        # should know even when replication runs again.
        text = f"{finding.text}; recovered: {recovery['action']}"
        return Finding(Status.worst([finding.status, Status.WARNING]), text)
    return Finding(finding.status, f"{finding.text}; {recovery['action']}")


def _recover(
    server: _Server,
    options: DbReplicationOptions,
    channels: list[ReplicaChannel],
    word: str,
    state: CheckState,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Skip one event on each connection stopped on a listed error, if one is due."""
    candidates = [
        c
        for c in channels
        if c.sql_running != "Yes"
        and c.last_sql_errno
        and c.last_sql_errno in options.recover_errors
    ]
    if not candidates:
        return {}
    saved = state.load()
    history: dict[str, str] = dict(saved.get("recoveries") or {})
    outcomes: dict[str, dict[str, Any]] = {}
    for channel in candidates:
        last = _parse(history.get(channel.name))
        if not recovery_due(last, now, options.recover_every):
            assert last is not None
            again = last + timedelta(seconds=options.recover_every)
            outcomes[channel.name] = {
                "done": False,
                "action": f"not recovered: last recovery at {format_time(last)}, "
                f"next allowed at {format_time(again)}",
            }
            continue
        outcomes[channel.name] = _skip_one(server, options.engine, channel, word)
        # Remembered before anything else can fail: a failed attempt counts as one.
        history[channel.name] = format_time(now)
        state.save({**saved, "recoveries": history})
    return outcomes


def _skip_one(server: _Server, engine: str, channel: ReplicaChannel, word: str) -> dict[str, Any]:
    statements = recovery_statements(channel, engine)
    shown = show_statements(statements)
    outcome: dict[str, Any] = {
        "error": channel.last_sql_errno,
        "statements": shown,
        "using_gtid": channel.using_gtid,
    }
    if engine == "mysql" and _gtid_mode_on(server):
        outcome |= {
            "done": False,
            "action": "not recovered: MySQL refuses sql_replica_skip_counter with "
            "GTID_MODE=ON; inject an empty transaction for the failing GTID by hand",
        }
        return outcome
    for sql, args in statements:
        try:
            server.execute(sql, args)
        except pymysql.Error as exc:
            reason = server.target.hide_password(_reason(exc))
            failed = show_statements([(sql, args)])
            return outcome | {"done": False, "action": f"recovery failed at {failed}: {reason}"}
    action = (
        f"skipped one event after error {channel.last_sql_errno} and restarted the SQL "
        f"thread of {label(channel, word)} ({shown})"
    )
    if engine == "mariadb" and channel.using_gtid not in ("", "No"):
        action += "; with GTID the skipped transaction is recorded in gtid_slave_pos"
    return outcome | {"done": True, "action": action}


def _gtid_mode_on(server: _Server) -> bool:
    rows = server.try_rows("SELECT @@GLOBAL.gtid_mode AS mode")
    return isinstance(rows, list) and bool(rows) and str(rows[0]["mode"]).upper() == "ON"


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None
