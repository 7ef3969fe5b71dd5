"""The PostgreSQL half of db_replication: standbys of a primary, WAL receiver and replay.

On a primary, ``pg_stat_replication`` says which standbys stream and how far
behind they replay; on a standby, ``pg_stat_wal_receiver`` says whether WAL still
arrives and the replay functions say whether it is applied::

    findings = judge_standby(StandbyState("streaming", "10.0.0.5:5432", "not paused",
                                          lag_s=2.0, lag_bytes=8192), options)

The monitoring role needs ``pg_monitor`` to see other sessions' replication rows;
the agent asks through ``psql`` (PostgreSQL's client, on every server that runs one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .base import CheckState
from .db_replication import Finding, Observation, Target, judge_count, judge_lag, resolve_role
from .errors import CheckFailed
from .result import Status

if TYPE_CHECKING:
    from .db_replication import DbReplicationOptions

__all__ = [
    "StandbyLink",
    "StandbyState",
    "judge_standby",
    "judge_standbys",
    "observe",
]

_NEEDS_PG_MONITOR = (
    "cannot see the {what}: the monitoring role needs pg_monitor (GRANT pg_monitor TO ...)"
)
# Connections in pg_stat_replication that are not standbys.
_NOT_STANDBYS = ("pg_basebackup", "pg_receivewal")

_LINKS_SQL = """
SELECT application_name, host(client_addr) AS client, state, sync_state,
       pg_wal_lsn_diff(
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END,
           replay_lsn)::bigint AS lag_bytes,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS lag_s
  FROM pg_stat_replication
 WHERE state IS DISTINCT FROM 'backup'
 ORDER BY application_name
"""

# Replay lag in time: while everything received is replayed the standby is not
# behind, however long ago the primary last committed; otherwise the age of the
# last transaction replayed, measured by the server's own clock.
_REPLAY_SQL = """
SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
           AS lag_bytes,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
       END AS lag_s
"""


@dataclass(frozen=True)
class StandbyLink:
    """One standby as its primary sees it in pg_stat_replication."""

    name: str
    client: str
    state: str  # startup, catchup, streaming, stopping
    sync_state: str
    lag_bytes: int | None
    lag_s: float | None  # None: no recent WAL activity to time, i.e. caught up


@dataclass(frozen=True)
class StandbyState:
    """What a standby says about itself."""

    receiver: str | None  # pg_stat_wal_receiver.status, None when no receiver runs
    sender: str
    pause_state: str  # not paused, pause requested, paused
    lag_s: float | None
    lag_bytes: int | None
    apply_delay_s: float = 0.0  # recovery_min_apply_delay: lag the standby keeps on purpose


def _size(count: int | None) -> str:
    if count is None:
        return "? B"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _bytes_status(count: int | None, warning: int | None, critical: int | None) -> Status:
    if count is None:
        return Status.OK
    if critical is not None and count >= critical:
        return Status.CRITICAL
    if warning is not None and count >= warning:
        return Status.WARNING
    return Status.OK


def _lag_finding(
    prefix: str,
    lag_s: float | None,
    lag_bytes: int | None,
    options: DbReplicationOptions,
    behind: str = "",
    delay_s: float = 0.0,
) -> Finding:
    seconds = "?" if lag_s is None else f"{lag_s:.1f}"
    text = f"{prefix} {seconds} s / {_size(lag_bytes)} behind{behind}"
    if delay_s and lag_s is not None:
        # A delayed standby lags on purpose: only lag beyond the delay is a problem.
        lag_s = max(0.0, lag_s - delay_s)
        text += f", {lag_s:.1f} s beyond its configured delay of {delay_s:g} s"
    by_time = judge_lag(lag_s, options.lag_warning, options.lag_critical)
    by_size = _bytes_status(lag_bytes, options.lag_bytes_warning, options.lag_bytes_critical)
    status = Status.worst([by_time, by_size])
    limits = []
    if by_time in (Status.WARNING, Status.CRITICAL):
        seconds_limit = options.lag_critical if by_time is Status.CRITICAL else options.lag_warning
        limits.append(f"{by_time.name.lower()} at {seconds_limit:g} s")
    if by_size in (Status.WARNING, Status.CRITICAL):
        bytes_limit = (
            options.lag_bytes_critical if by_size is Status.CRITICAL else options.lag_bytes_warning
        )
        limits.append(f"{by_size.name.lower()} at {_size(bytes_limit)}")
    if by_time is Status.UNKNOWN:
        limits.append("lag in time unknown: no transaction replayed yet")
    if limits:
        text += f" ({', '.join(limits)})"
    return Finding(status, text)


def judge_standbys(links: list[StandbyLink], options: DbReplicationOptions) -> list[Finding]:
    """Verdicts on a primary's standbys: the expected ones streaming, none lagging."""
    findings = []
    by_name = {link.name: link for link in links}
    for name in options.expected_standbys:
        link = by_name.get(name)
        if link is None:
            findings.append(Finding(Status.CRITICAL, f"standby '{name}' is not connected"))
        elif link.state == "catchup":
            findings.append(Finding(Status.WARNING, f"standby '{name}' is catching up"))
        elif link.state != "streaming":
            findings.append(Finding(Status.CRITICAL, f"standby '{name}' is {link.state}"))
    streaming = [link for link in links if link.state == "streaming"]
    if options.expected_replicas is not None or not options.expected_standbys:
        findings.append(judge_count(len(streaming), options.expected_replicas, "standby"))
    for link in streaming:
        # NULL lag means no WAL to time recently: the standby has caught up.
        lag_s = 0.0 if link.lag_s is None else link.lag_s
        findings.append(_lag_finding(f"standby '{link.name}'", lag_s, link.lag_bytes, options))
    return findings


def judge_standby(state: StandbyState, options: DbReplicationOptions) -> list[Finding]:
    """Verdicts on a standby: WAL arriving, replay running, replay not behind."""
    findings = []
    if state.receiver is None:
        findings.append(
            Finding(Status.CRITICAL, "no WAL receiver running: not streaming from the primary")
        )
    elif state.receiver != "streaming":
        source = f" from {state.sender}" if state.sender else ""
        findings.append(
            Finding(Status.CRITICAL, f"WAL receiver {state.receiver}, not streaming{source}")
        )
    if state.pause_state != "not paused":
        findings.append(
            Finding(
                Status.CRITICAL,
                f"WAL replay {state.pause_state} (resume with pg_wal_replay_resume())",
            )
        )
    behind = f" primary {state.sender}" if state.sender else ""
    findings.append(
        _lag_finding(
            "replaying", state.lag_s, state.lag_bytes, options, behind, state.apply_delay_s
        )
    )
    return findings


class _Server:
    """A monitoring session through ``psql``: each query one run of libpq's own client.

    psql rather than a driver in the agent: the agent stays small on the servers it
    watches (psycopg and its bundled libpq cost an agent about 20 MB for one query a
    minute), and connecting is exactly libpq's (``sslmode``, ``.pgpass``, service
    files, ``PG*`` variables), as with any PostgreSQL tool. Nothing passes through a
    shell; the password travels in ``PGPASSWORD``, which Linux shows only to the
    agent's own user. Each query comes back as one JSON document (``json_agg``), so
    numbers, booleans and NULLs keep their types.
    """

    def __init__(self, target: Target, timeout: float, psql: str) -> None:
        self.target = target
        self.timeout = timeout
        program = shutil.which(psql)
        if program is None:
            raise CheckFailed(
                f"cannot run {psql!r}: PostgreSQL's client is needed "
                "(Debian: postgresql-client; RHEL: postgresql)"
            )
        self.argv = [program, "--no-psqlrc", "--quiet", "--no-align", "--tuples-only"]
        host = target.host or target.socket
        settings = {
            "PGHOST": host,
            "PGPORT": target.port,
            "PGUSER": target.user,
            "PGPASSWORD": target.password,
            "PGDATABASE": target.database,
            "PGCONNECT_TIMEOUT": max(2, round(timeout)),
            "PGAPPNAME": "portacare-db_replication",
            # Every statement must end: a check that hangs costs a runner thread.
            "PGOPTIONS": f"-c statement_timeout={int(timeout * 1000)}",
            "LC_MESSAGES": "C",
        }
        self.env = {**os.environ, **{k: str(v) for k, v in settings.items() if v}}
        self.where = f"{host or 'the local socket'}" + (f":{target.port}" if target.port else "")
        hello = self.rows(
            "SELECT pg_is_in_recovery() AS in_recovery,"
            " current_setting('server_version_num')::int AS version"
        )[0]
        self.in_recovery = bool(hello["in_recovery"])
        self.version = int(hello["version"])

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of ``sql``; a failure is CheckFailed naming it, without the password."""
        document = f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) AS q"
        try:
            done = subprocess.run(
                [*self.argv, "--command", document],
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=2 * self.timeout + 5,  # connecting, then the statement
            )
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"psql gave no answer from {self.where} in time") from None
        except OSError as exc:
            raise CheckFailed(f"cannot run psql: {exc}") from None
        if done.returncode == 0:
            rows: list[dict[str, Any]] = json.loads(done.stdout)
            return rows
        reason = " ".join(done.stderr.split()).removeprefix("psql: error: ")
        reason = reason or f"psql ended with status {done.returncode}"
        if done.returncode == 2:  # psql: the connection failed or went bad
            what = f"cannot connect to {self.where}"
        else:
            what = f"query failed ({' '.join(sql.split())[:60]}…)"
        raise CheckFailed(self.target.hide_password(f"{what}: {reason}"))


def read_links(server: _Server) -> list[StandbyLink]:
    """The standbys streaming from this server, as pg_stat_replication lists them."""
    links = []
    for row in server.rows(_LINKS_SQL):
        name = row["application_name"] or ""
        if name in _NOT_STANDBYS:
            continue
        if row["state"] is None:
            # Without pg_monitor the rows are there but every detail is NULL: that is
            # "cannot see", not "not streaming".
            raise CheckFailed(_NEEDS_PG_MONITOR.format(what="standbys' state"))
        links.append(
            StandbyLink(
                name=name,
                client=row["client"] or "local",
                state=row["state"] or "unknown",
                sync_state=row["sync_state"] or "",
                lag_bytes=None if row["lag_bytes"] is None else int(row["lag_bytes"]),
                lag_s=row["lag_s"],
            )
        )
    return links


def read_standby(server: _Server) -> StandbyState:
    """The standby's WAL receiver, replay pause state and replay lag."""
    receivers = server.rows("SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver")
    receiver = receivers[0] if receivers else None
    if receiver is not None and receiver["status"] is None:
        raise CheckFailed(_NEEDS_PG_MONITOR.format(what="WAL receiver"))
    if server.version >= 140000:
        pause = server.rows("SELECT pg_get_wal_replay_pause_state() AS state")[0]["state"]
    else:
        paused = server.rows("SELECT pg_is_wal_replay_paused() AS paused")[0]["paused"]
        pause = "paused" if paused else "not paused"
    replay = server.rows(_REPLAY_SQL)[0]
    delay = server.rows(
        "SELECT setting::float8 / 1000 AS s FROM pg_settings"
        " WHERE name = 'recovery_min_apply_delay'"
    )
    sender = ""
    if receiver is not None and receiver["sender_host"]:
        sender = f"{receiver['sender_host']}:{receiver['sender_port']}"
    return StandbyState(
        receiver=None if receiver is None else receiver["status"],
        sender=sender,
        pause_state=pause,
        lag_s=replay["lag_s"],
        lag_bytes=None if replay["lag_bytes"] is None else int(replay["lag_bytes"]),
        apply_delay_s=float(delay[0]["s"]) if delay else 0.0,
    )


def observe(
    options: DbReplicationOptions, target: Target, state: CheckState, now: datetime
) -> Observation:
    """Look at one PostgreSQL server and judge its replication."""
    del state, now  # PostgreSQL needs no memory between runs and no recovery
    return _observe(_Server(target, options.connect_timeout, options.psql), options)


def _observe(server: _Server, options: DbReplicationOptions) -> Observation:
    in_recovery = server.in_recovery
    role = resolve_role(options.role, in_recovery)
    observation = Observation(role=role)
    if role == "replica":
        if not in_recovery:
            observation.findings.append(
                Finding(Status.CRITICAL, "not a standby: the server is not in recovery")
            )
        else:
            standby = read_standby(server)
            observation.findings.extend(judge_standby(standby, options))
            observation.metrics.update(
                {
                    "wal_receiver_streaming": int(standby.receiver == "streaming"),
                    "replay_paused": int(standby.pause_state != "not paused"),
                }
            )
            if standby.lag_s is not None:
                observation.metrics["replay_lag_s"] = round(standby.lag_s, 3)
            if standby.lag_bytes is not None:
                observation.metrics["replay_lag_bytes"] = standby.lag_bytes
            observation.details["standby"] = {
                "wal_receiver": standby.receiver,
                "sender": standby.sender,
                "replay": standby.pause_state,
                "apply_delay_s": standby.apply_delay_s,
            }
    watch_standbys = options.expected_replicas is not None or bool(options.expected_standbys)
    if role == "primary" and in_recovery and options.role == "primary":
        observation.findings.append(
            Finding(Status.CRITICAL, "not a primary: the server is in recovery (a standby)")
        )
    elif role == "primary" or watch_standbys:
        links = read_links(server)
        observation.findings.extend(judge_standbys(links, options))
        observation.metrics["standbys_streaming"] = sum(
            1 for link in links if link.state == "streaming"
        )
        for link in links:
            if link.lag_bytes is not None:
                observation.metrics[f"{link.name} lag_bytes"] = link.lag_bytes
            observation.metrics[f"{link.name} replay_lag_s"] = round(link.lag_s or 0.0, 3)
        observation.details["standbys"] = {
            link.name: {"client": link.client, "state": link.state, "sync_state": link.sync_state}
            for link in links
        }
    return observation
