"""db_replication's decisions, tested by tables: options, credentials, rows, verdicts, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portacare.checks import CheckFailed, Status
from portacare.checks.db_replication import (
    Credentials,
    DbReplicationOptions,
    Finding,
    Observation,
    Target,
    judge_count,
    judge_lag,
    load_credentials,
    parse_credentials,
    resolve_role,
    summarise,
)
from portacare.checks.db_replication_mysql import (
    ReplicaChannel,
    channel_from_row,
    judge_channel,
    recovery_due,
    recovery_statements,
    show_statements,
)
from portacare.checks.db_replication_pg import (
    StandbyLink,
    StandbyState,
    judge_standby,
    judge_standbys,
)
from portacare.checks.options import OptionsError, parse_options

# --- options -------------------------------------------------------------------------------


def test_defaults() -> None:
    options = DbReplicationOptions()
    assert (options.engine, options.role) == ("mariadb", "auto")
    assert (options.lag_warning, options.lag_critical) == (60, 300)
    assert options.recover_errors == []
    assert options.recover_every == 3600
    assert options.expected_replicas is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"lag_warning": 400},
            "lag_warning (400) must not exceed lag_critical (300)",
            id="warning-over-critical",
        ),
        pytest.param(
            {"engine": "postgresql", "recover_errors": [1062]},
            "recover_errors applies to mariadb and mysql only",
            id="recovery-on-postgresql",
        ),
        pytest.param(
            {"engine": "postgresql", "expected_connections": ["eu"]},
            "expected_connections applies to mariadb and mysql only",
            id="connections-on-postgresql",
        ),
        pytest.param(
            {"expected_standbys": ["s1"]},
            "expected_standbys applies to postgresql only",
            id="standbys-on-mariadb",
        ),
        pytest.param(
            {"engine": "mysql", "lag_bytes_warning": 10},
            "lag_bytes_warning/lag_bytes_critical apply to postgresql only",
            id="bytes-on-mysql",
        ),
        pytest.param(
            {"engine": "postgresql", "lag_bytes_warning": 10, "lag_bytes_critical": 5},
            "lag_bytes_warning must not exceed lag_bytes_critical",
            id="bytes-warning-over-critical",
        ),
        pytest.param(
            {"engine": "oracle"}, "engine: Invalid enum value 'oracle'", id="unknown-engine"
        ),
        pytest.param({"lag_warnign": 5}, "lag_warnign: unknown option", id="typo-refused"),
        pytest.param({"port": 70000}, "port: Expected `int` <= 65535", id="bad-port"),
        pytest.param({"recover_every": 0}, "recover_every: Expected `float` > 0", id="zero-period"),
    ],
)
def test_bad_options_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_options(DbReplicationOptions, raw)


# --- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'user = "mon"\npassword = "s3cret"\nport = 3307\n',
            Credentials(user="mon", password="s3cret", port=3307),
            id="toml-top-level",
        ),
        pytest.param(
            '[client]\nuser = "mon"\npassword = "p#w=d"\nsocket = "/run/mysqld/mysqld.sock"\n',
            Credentials(user="mon", password="p#w=d", socket="/run/mysqld/mysqld.sock"),
            id="toml-client-table",
        ),
        pytest.param(
            "[mysqld]\nport=1\n[client]\nuser=mon\npassword=s3cret\nhost=db1\nport=3307\n",
            Credentials(user="mon", password="s3cret", host="db1", port=3307),
            id="my-cnf",
        ),
        pytest.param(
            "[client]\nuser = 'mon'\npassword = \"two words\"\n",
            Credentials(user="mon", password="two words"),
            id="my-cnf-quoted",
        ),
        pytest.param(
            '[client]\nusername = "mon"\ndbname = "app"\nssl-mode = "require"\n',
            Credentials(user="mon", database="app"),
            id="aliases-and-unknown-keys",
        ),
    ],
)
def test_parse_credentials(text: str, expected: Credentials) -> None:
    assert parse_credentials(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[mysqld]\nuser=mon\n", "has no \\[client\\] section", id="no-client"),
        pytest.param("just words\n", "neither TOML nor a my.cnf", id="garbage"),
        pytest.param('port = "abc"\n', "port is not a number", id="bad-port"),
    ],
)
def test_unusable_credentials(text: str, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        parse_credentials(text)


@pytest.mark.parametrize(
    ("mode", "refused"),
    [
        pytest.param(0o600, False, id="owner-only"),
        pytest.param(0o400, False, id="owner-read-only"),
        pytest.param(0o640, True, id="group-readable"),
        pytest.param(0o604, True, id="world-readable"),
        pytest.param(0o620, True, id="group-writable"),
    ],
)
def test_credentials_file_mode(tmp_path: Path, mode: int, refused: bool) -> None:
    path = tmp_path / "db.cnf"
    path.write_text('user = "mon"\npassword = "s3cret"\n')
    path.chmod(mode)
    if refused:
        with pytest.raises(CheckFailed, match=f"mode {mode:04o}"):
            load_credentials(path)
    else:
        assert load_credentials(path).password == "s3cret"


def test_missing_credentials_file(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="cannot read credentials file"):
        load_credentials(tmp_path / "absent.cnf")


def test_password_never_in_repr() -> None:
    creds = Credentials(user="mon", password="s3cret")
    target = Target.build(DbReplicationOptions(), creds)
    assert "s3cret" not in repr(creds)
    assert "s3cret" not in repr(target)
    assert target.hide_password("denied for s3cret") == "denied for ********"


def test_options_win_over_credentials_file() -> None:
    creds = Credentials(user="mon", host="db1", port=3307, socket="/s", database="app")
    options = DbReplicationOptions(host="db2", engine="postgresql")
    target = Target.build(options, creds)
    assert (target.host, target.port, target.socket, target.database) == ("db2", 3307, "/s", "app")


# --- shared verdicts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "replicating", "role"),
    [
        pytest.param("auto", True, "replica", id="auto-replicating"),
        pytest.param("auto", False, "primary", id="auto-not-replicating"),
        pytest.param("primary", True, "primary", id="primary-forced"),
        pytest.param("replica", False, "replica", id="replica-forced"),
    ],
)
def test_resolve_role(configured: Any, replicating: bool, role: str) -> None:
    assert resolve_role(configured, replicating) == role


@pytest.mark.parametrize(
    ("seconds", "status"),
    [
        pytest.param(None, Status.UNKNOWN, id="unknown"),
        pytest.param(0, Status.OK, id="zero"),
        pytest.param(59.9, Status.OK, id="under-warning"),
        pytest.param(60, Status.WARNING, id="at-warning"),
        pytest.param(299, Status.WARNING, id="under-critical"),
        pytest.param(300, Status.CRITICAL, id="at-critical"),
    ],
)
def test_judge_lag(seconds: float | None, status: Status) -> None:
    assert judge_lag(seconds, 60, 300) is status


@pytest.mark.parametrize(
    ("streaming", "expected", "finding"),
    [
        pytest.param(1, None, Finding(Status.OK, "1 replica streaming"), id="default-one"),
        pytest.param(
            0, None, Finding(Status.CRITICAL, "0 replicas streaming, expected 1"), id="default-none"
        ),
        pytest.param(0, 0, Finding(Status.OK, "0 replicas streaming"), id="none-expected"),
        pytest.param(
            2, 3, Finding(Status.CRITICAL, "2 replicas streaming, expected 3"), id="one-missing"
        ),
        pytest.param(3, 2, Finding(Status.OK, "3 replicas streaming"), id="more-than-expected"),
    ],
)
def test_judge_count(streaming: int, expected: int | None, finding: Finding) -> None:
    assert judge_count(streaming, expected) == finding


@pytest.mark.parametrize(
    ("findings", "status", "summary"),
    [
        pytest.param(
            [Finding(Status.OK, "a fine"), Finding(Status.OK, "b fine")],
            Status.OK,
            "replica OK: a fine; b fine",
            id="all-ok",
        ),
        pytest.param(
            [
                Finding(Status.OK, "a fine"),
                Finding(Status.WARNING, "b slow"),
                Finding(Status.CRITICAL, "c stopped"),
            ],
            Status.CRITICAL,
            "c stopped; b slow",
            id="worst-first-ok-hidden",
        ),
        pytest.param(
            [Finding(Status.WARNING, f"w{i}") for i in range(5)],
            Status.WARNING,
            "w0; w1; w2; and 2 more",
            id="long-list-cut",
        ),
        pytest.param(
            [Finding(Status.UNKNOWN, "lag unknown"), Finding(Status.OK, "x")],
            Status.UNKNOWN,
            "lag unknown",
            id="unknown-shown",
        ),
    ],
)
def test_summarise(findings: list[Finding], status: Status, summary: str) -> None:
    result = summarise(Observation(role="replica", findings=findings))
    assert result.status is status
    assert result.summary == summary
    assert len(result.details["findings"]) == len(findings)


# --- MariaDB / MySQL -----------------------------------------------------------------------

MARIADB_ROW = {
    "Connection_name": "eu",
    "Slave_IO_Running": "Yes",
    "Slave_SQL_Running": "No",
    "Seconds_Behind_Master": None,
    "Master_Host": "10.0.0.1",
    "Master_Port": 3306,
    "Last_IO_Errno": 0,
    "Last_IO_Error": "",
    "Last_SQL_Errno": 1062,
    "Last_SQL_Error": "Duplicate entry '4' for key 'PRIMARY'",
    "Using_Gtid": "Slave_Pos",
    "Gtid_IO_Pos": "0-1-10",
    "Gtid_Slave_Pos": "0-1-9",
    "SQL_Delay": 0,
}
MYSQL8_ROW = {
    "Channel_Name": "",
    "Replica_IO_Running": "Connecting",
    "Replica_SQL_Running": "Yes",
    "Seconds_Behind_Source": None,
    "Source_Host": "db0",
    "Source_Port": 3306,
    "Last_IO_Errno": 2003,
    "Last_IO_Error": "error connecting to source",
    "Last_SQL_Errno": 0,
    "Last_SQL_Error": "",
    "Auto_Position": 1,
    "Retrieved_Gtid_Set": "uuid:1-5",
    "Executed_Gtid_Set": "uuid:1-5",
    "SQL_Delay": 0,
}
MYSQL57_ROW = {
    "Channel_Name": "",
    "Slave_IO_Running": "Yes",
    "Slave_SQL_Running": "Yes",
    "Seconds_Behind_Master": 12,
    "Master_Host": "db0",
    "Master_Port": 3306,
    "Auto_Position": 0,
    "Executed_Gtid_Set": "",
    "SQL_Delay": 3600,
}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(
            MARIADB_ROW,
            ReplicaChannel(
                "eu",
                "Yes",
                "No",
                None,
                0,
                "",
                1062,
                "Duplicate entry '4' for key 'PRIMARY'",
                "10.0.0.1:3306",
                "Slave_Pos",
                "0-1-10",
                "0-1-9",
                0,
                False,
            ),
            id="mariadb-multi-source",
        ),
        pytest.param(
            MYSQL8_ROW,
            ReplicaChannel(
                "",
                "Connecting",
                "Yes",
                None,
                2003,
                "error connecting to source",
                0,
                "",
                "db0:3306",
                "Auto_Position",
                "uuid:1-5",
                "uuid:1-5",
                0,
                True,
            ),
            id="mysql8-replica-names",
        ),
        pytest.param(
            MYSQL57_ROW,
            ReplicaChannel(
                "",
                "Yes",
                "Yes",
                12,
                0,
                "",
                0,
                "",
                "db0:3306",
                "No",
                "",
                "",
                3600,
                False,
            ),
            id="mysql57-slave-names",
        ),
    ],
)
def test_channel_from_row(row: dict[str, Any], expected: ReplicaChannel) -> None:
    assert channel_from_row(row) == expected


def _channel(**changes: Any) -> ReplicaChannel:
    base = channel_from_row(
        {**MYSQL57_ROW, "Seconds_Behind_Master": 0, "SQL_Delay": 0, "Channel_Name": ""}
    )
    return ReplicaChannel(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("channel", "status", "text"),
    [
        pytest.param(
            _channel(), Status.OK, "default connection: 0 s behind primary db0:3306", id="running"
        ),
        pytest.param(
            _channel(seconds_behind=61),
            Status.WARNING,
            "default connection: 61 s behind primary db0:3306 (warning at 60 s)",
            id="lag-warning",
        ),
        pytest.param(
            _channel(seconds_behind=300, name="eu"),
            Status.CRITICAL,
            "connection 'eu': 300 s behind primary db0:3306 (critical at 300 s)",
            id="lag-critical",
        ),
        pytest.param(
            _channel(seconds_behind=3605, sql_delay=3600),
            Status.OK,
            "default connection: 3605 s behind primary db0:3306, 5 s beyond its configured "
            "delay of 3600 s",
            id="delayed-replica-on-time",
        ),
        pytest.param(
            _channel(seconds_behind=20, sql_delay=3600),
            Status.OK,
            "default connection: 20 s behind primary db0:3306, 0 s beyond its configured "
            "delay of 3600 s",
            id="delayed-replica-idle-primary",
        ),
        pytest.param(
            _channel(seconds_behind=3700, sql_delay=3600),
            Status.WARNING,
            "default connection: 3700 s behind primary db0:3306, 100 s beyond its configured "
            "delay of 3600 s (warning at 60 s)",
            id="delayed-replica-late",
        ),
        pytest.param(
            _channel(seconds_behind=None),
            Status.UNKNOWN,
            "default connection: threads running but lag unknown (Seconds_Behind NULL)",
            id="lag-null",
        ),
        pytest.param(
            _channel(sql_running="No", last_sql_errno=1062, last_sql_error="Duplicate  entry\n'4'"),
            Status.CRITICAL,
            "default connection: SQL thread stopped on error 1062: Duplicate entry '4'",
            id="sql-error",
        ),
        pytest.param(
            _channel(sql_running="No"),
            Status.CRITICAL,
            "default connection: SQL thread stopped",
            id="sql-stopped-by-hand",
        ),
        pytest.param(
            _channel(io_running="Connecting", last_io_errno=2003, last_io_error="can't connect"),
            Status.CRITICAL,
            "default connection: IO thread connecting (error 2003: can't connect)",
            id="io-connecting",
        ),
        pytest.param(
            _channel(io_running="No", sql_running="No"),
            Status.CRITICAL,
            "default connection: SQL thread stopped, IO thread stopped",
            id="both-stopped",
        ),
        pytest.param(
            _channel(sql_running="No", last_sql_errno=1146, last_sql_error="x" * 500),
            Status.CRITICAL,
            "default connection: SQL thread stopped on error 1146: " + "x" * 199 + "…",
            id="long-error-cut",
        ),
    ],
)
def test_judge_channel(channel: ReplicaChannel, status: Status, text: str) -> None:
    assert judge_channel(channel, "connection", 60, 300) == Finding(status, text)


T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        pytest.param(None, T0, True, id="never"),
        pytest.param(T0, T0 + timedelta(minutes=59), False, id="within-period"),
        pytest.param(T0, T0 + timedelta(hours=1), True, id="period-over"),
        pytest.param(T0, T0 - timedelta(hours=2), False, id="clock-went-back"),
    ],
)
def test_recovery_due(last: datetime | None, now: datetime, due: bool) -> None:
    assert recovery_due(last, now, 3600) is due


@pytest.mark.parametrize(
    ("channel", "engine", "shown"),
    [
        pytest.param(
            _channel(name=""),
            "mariadb",
            "SET @@SESSION.default_master_connection = ''; SET GLOBAL sql_slave_skip_counter = 1;"
            " START SLAVE SQL_THREAD",
            id="mariadb-default",
        ),
        pytest.param(
            _channel(name="o'brien"),
            "mariadb",
            "SET @@SESSION.default_master_connection = 'o''brien'; "
            "SET GLOBAL sql_slave_skip_counter = 1; START SLAVE SQL_THREAD",
            id="mariadb-named-quoted",
        ),
        pytest.param(
            _channel(name="eu", modern_names=True),
            "mysql",
            "SET GLOBAL sql_replica_skip_counter = 1; START REPLICA SQL_THREAD FOR CHANNEL 'eu'",
            id="mysql8-channel",
        ),
        pytest.param(
            _channel(name=""),
            "mysql",
            "SET GLOBAL sql_slave_skip_counter = 1; START SLAVE SQL_THREAD",
            id="mysql57-default",
        ),
    ],
)
def test_recovery_statements(channel: ReplicaChannel, engine: str, shown: str) -> None:
    statements = recovery_statements(channel, engine)
    assert show_statements(statements) == shown
    # The connection name only ever travels as a bound argument, never spliced into SQL.
    assert all(channel.name not in sql or not channel.name for sql, _ in statements)


# --- PostgreSQL ----------------------------------------------------------------------------

PG = DbReplicationOptions(engine="postgresql")


def _link(
    name: str = "s1", state: str = "streaming", lag_s: float | None = 0.5, lag_bytes: int | None = 0
) -> StandbyLink:
    return StandbyLink(name, "10.0.0.2", state, "async", lag_bytes, lag_s)


@pytest.mark.parametrize(
    ("links", "options", "expected"),
    [
        pytest.param(
            [_link()],
            {},
            [(Status.OK, "1 standby streaming"), (Status.OK, "standby 's1' 0.5 s / 0 B behind")],
            id="one-streaming",
        ),
        pytest.param(
            [],
            {},
            [(Status.CRITICAL, "0 standbys streaming, expected 1")],
            id="none",
        ),
        pytest.param(
            [_link(lag_s=None)],
            {"expected_standbys": ["s1"]},
            [(Status.OK, "standby 's1' 0.0 s / 0 B behind")],
            id="idle-lag-null-is-caught-up",
        ),
        pytest.param(
            [_link()],
            {"expected_standbys": ["s1", "s2"]},
            [
                (Status.CRITICAL, "standby 's2' is not connected"),
                (Status.OK, "standby 's1' 0.5 s / 0 B behind"),
            ],
            id="named-missing",
        ),
        pytest.param(
            [_link(state="catchup")],
            {"expected_standbys": ["s1"]},
            [(Status.WARNING, "standby 's1' is catching up")],
            id="catching-up",
        ),
        pytest.param(
            [_link(state="startup")],
            {"expected_standbys": ["s1"], "expected_replicas": 1},
            [
                (Status.CRITICAL, "standby 's1' is startup"),
                (Status.CRITICAL, "0 standbys streaming, expected 1"),
            ],
            id="starting",
        ),
        pytest.param(
            [_link(lag_s=90, lag_bytes=3 * 1024 * 1024)],
            {"expected_replicas": 1},
            [
                (Status.OK, "1 standby streaming"),
                (Status.WARNING, "standby 's1' 90.0 s / 3.0 MiB behind (warning at 60 s)"),
            ],
            id="time-warning",
        ),
        pytest.param(
            [_link(lag_bytes=2048)],
            {"expected_replicas": 1, "lag_bytes_warning": 1024, "lag_bytes_critical": 2048},
            [
                (Status.OK, "1 standby streaming"),
                (Status.CRITICAL, "standby 's1' 0.5 s / 2.0 KiB behind (critical at 2.0 KiB)"),
            ],
            id="bytes-critical",
        ),
    ],
)
def test_judge_standbys(
    links: list[StandbyLink], options: dict[str, Any], expected: list[tuple[Status, str]]
) -> None:
    opts = DbReplicationOptions(engine="postgresql", **options)
    assert [(f.status, f.text) for f in judge_standbys(links, opts)] == expected


def _standby(**changes: Any) -> StandbyState:
    base = {
        "receiver": "streaming",
        "sender": "10.0.0.1:5432",
        "pause_state": "not paused",
        "lag_s": 0.0,
        "lag_bytes": 0,
    }
    return StandbyState(**{**base, **changes})


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(
            _standby(),
            [(Status.OK, "replaying 0.0 s / 0 B behind primary 10.0.0.1:5432")],
            id="streaming",
        ),
        pytest.param(
            _standby(receiver=None, sender=""),
            [
                (Status.CRITICAL, "no WAL receiver running: not streaming from the primary"),
                (Status.OK, "replaying 0.0 s / 0 B behind"),
            ],
            id="no-receiver",
        ),
        pytest.param(
            _standby(receiver="waiting"),
            [
                (Status.CRITICAL, "WAL receiver waiting, not streaming from 10.0.0.1:5432"),
                (Status.OK, "replaying 0.0 s / 0 B behind primary 10.0.0.1:5432"),
            ],
            id="waiting",
        ),
        pytest.param(
            _standby(pause_state="paused", lag_s=None, lag_bytes=480),
            [
                (Status.CRITICAL, "WAL replay paused (resume with pg_wal_replay_resume())"),
                (
                    Status.UNKNOWN,
                    "replaying ? s / 480 B behind primary 10.0.0.1:5432 "
                    "(lag in time unknown: no transaction replayed yet)",
                ),
            ],
            id="paused",
        ),
        pytest.param(
            _standby(pause_state="pause requested"),
            [
                (
                    Status.CRITICAL,
                    "WAL replay pause requested (resume with pg_wal_replay_resume())",
                ),
                (Status.OK, "replaying 0.0 s / 0 B behind primary 10.0.0.1:5432"),
            ],
            id="pause-requested",
        ),
        pytest.param(
            _standby(lag_s=400.0, lag_bytes=5 * 1024**3),
            [
                (
                    Status.CRITICAL,
                    "replaying 400.0 s / 5.0 GiB behind primary 10.0.0.1:5432 (critical at 300 s)",
                )
            ],
            id="lag-critical",
        ),
        pytest.param(
            _standby(lag_s=65.0, lag_bytes=100, apply_delay_s=60),
            [
                (
                    Status.OK,
                    "replaying 65.0 s / 100 B behind primary 10.0.0.1:5432, 5.0 s beyond its "
                    "configured delay of 60 s",
                )
            ],
            id="delayed-standby-on-time",
        ),
        pytest.param(
            _standby(lag_s=200.0, lag_bytes=100, apply_delay_s=60),
            [
                (
                    Status.WARNING,
                    "replaying 200.0 s / 100 B behind primary 10.0.0.1:5432, 140.0 s beyond its "
                    "configured delay of 60 s (warning at 60 s)",
                )
            ],
            id="delayed-standby-late",
        ),
    ],
)
def test_judge_standby(state: StandbyState, expected: list[tuple[Status, str]]) -> None:
    assert [(f.status, f.text) for f in judge_standby(state, PG)] == expected
