"""db_replication against a real MariaDB primary and GTID replica on loopback ports.

Every test starts from a healed pair (threads running, in sync) and breaks it for
real: a stopped SQL thread, a duplicate key, a held row lock, a stopped primary,
a second source that cannot be reached.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest

from portacare.checks import CheckContext, CheckResult, Status, run_check
from portacare.checks.db_replication import DbReplicationCheck
from tests.support import mariadb_pair as support
from tests.support.mariadb_pair import (
    BARE_PASSWORD,
    BARE_USER,
    MONITOR_PASSWORD,
    MONITOR_USER,
    NOPROCESS_PASSWORD,
    NOPROCESS_USER,
    RECOVER_PASSWORD,
    RECOVER_USER,
    MariaDBPair,
    MariaDBServer,
    write_credentials,
)
from tests.support.services import free_port, wait_for

pytestmark = pytest.mark.integration

# The pair's fixtures, used by name below.
mariadb_pair = support.mariadb_pair
healthy_mariadb = support.healthy_mariadb

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

RunCheck = Callable[..., CheckResult]


@pytest.fixture
def run_on(tmp_path: Path) -> RunCheck:
    """Run the check against one server of the pair as the monitor user over TCP."""

    def run(
        server: MariaDBServer,
        now: datetime = T0,
        user: str = MONITOR_USER,
        password: str = MONITOR_PASSWORD,
        **options: Any,
    ) -> CheckResult:
        creds = write_credentials(
            tmp_path, f'[client]\nuser = "{user}"\npassword = "{password}"\n', name=user
        )
        raw = {
            "engine": "mariadb",
            "host": "127.0.0.1",
            "port": server.port,
            "credentials_file": str(creds),
            **options,
        }
        context = CheckContext(
            hostname="db.example.net",
            state_dir=tmp_path / "state",
            now=lambda: now,
            instance="orders_db",
        )
        result = run_check(DbReplicationCheck.from_config(raw, context), timeout=30)
        assert password not in json.dumps(result.to_wire("orders_db"))
        return result

    return run


def _replica_status(pair: MariaDBPair, connection: str = "") -> dict[str, Any]:
    return pair.replica_status(connection)


def _wait_sql_error(pair: MariaDBPair, errno: int) -> None:
    wait_for(
        lambda: (
            _replica_status(pair)["Last_SQL_Errno"] == errno
            and _replica_status(pair)["Slave_SQL_Running"] == "No"
        ),
        timeout=30,
        what=f"replica SQL thread stopping on error {errno}",
    )


def _duplicate_key(pair: MariaDBPair, item_id: int) -> None:
    """The same key written on the replica first, then on the primary: error 1062."""
    with pair.replica.root() as db:
        db.execute("SET SESSION sql_log_bin = 0")
        db.execute("INSERT INTO app.items (id, v) VALUES (%s, 7)", (item_id,))
    pair.primary.query("INSERT INTO app.items (id, v) VALUES (%s, 1)", (item_id,))
    _wait_sql_error(pair, 1062)


def test_healthy_replica_is_ok(healthy_mariadb: MariaDBPair, run_on: RunCheck) -> None:
    result = run_on(healthy_mariadb.replica)
    assert result.status is Status.OK
    assert result.summary == (
        f"replica OK: default connection: 0 s behind primary "
        f"127.0.0.1:{healthy_mariadb.primary.port}"
    )
    assert result.metrics["default seconds_behind"] == 0
    assert result.metrics["default sql_running"] == 1
    default = result.details["connections"]["default"]
    assert default["using_gtid"] == "Slave_Pos"
    assert (
        default["gtid_slave_pos"]
        == healthy_mariadb.primary.query("SELECT @@gtid_binlog_pos AS p")[0]["p"]
    )


def test_replica_with_expected_replicas_checks_its_own_replicas_too(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_mariadb.replica, expected_replicas=1)
    assert result.status is Status.CRITICAL
    assert result.summary == "0 replicas streaming, expected 1"
    assert result.details["connections"]["default"]["status"] == "OK"


def test_primary_counts_streaming_replicas(healthy_mariadb: MariaDBPair, run_on: RunCheck) -> None:
    result = run_on(healthy_mariadb.primary)
    assert result.status is Status.OK
    assert result.summary == "primary OK: 1 replica streaming"
    assert result.metrics["replicas_streaming"] == 1
    assert result.details["replicas"]["binlog_dump_threads"][0]["user"] == "repl"
    # The monitor account has only what the documentation asks for: no replica hosts list.
    assert result.details["replicas"]["registered_replicas"].startswith("not available: (1227)")


def test_primary_with_fewer_replicas_than_expected_is_critical(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_mariadb.primary, expected_replicas=2)
    assert result.status is Status.CRITICAL
    assert result.summary == "1 replica streaming, expected 2"


def test_primary_whose_replica_disconnected_is_critical(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    pair = healthy_mariadb
    pair.replica.query("STOP SLAVE IO_THREAD")
    wait_for(
        lambda: (
            not pair.primary.query(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'"
            )
        ),
        timeout=30,
        what="primary's binlog dump thread ending",
    )
    result = run_on(pair.primary)
    assert result.status is Status.CRITICAL
    assert result.summary == "0 replicas streaming, expected 1"


def test_primary_without_process_privilege_is_unknown(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    # Its process list shows no binlog dump thread: "cannot see", not "no replica".
    result = run_on(healthy_mariadb.primary, user=NOPROCESS_USER, password=NOPROCESS_PASSWORD)
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(
        "cannot see the replicas: the monitoring user needs the PROCESS privilege "
        "(the replica hosts list was refused too: (1227) Access denied"
    )


def test_primary_configured_as_replica_is_critical(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_mariadb.primary, role="replica")
    assert result.status is Status.CRITICAL
    assert result.summary == "not replicating: no replication is configured"


def test_stopped_sql_thread_is_critical(healthy_mariadb: MariaDBPair, run_on: RunCheck) -> None:
    healthy_mariadb.replica.query("STOP SLAVE SQL_THREAD")
    result = run_on(healthy_mariadb.replica)
    assert result.status is Status.CRITICAL
    assert result.summary == "default connection: SQL thread stopped"
    assert result.metrics["default sql_running"] == 0
    assert result.metrics["default io_running"] == 1


def test_duplicate_key_is_critical_and_not_recovered_unless_listed(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    _duplicate_key(healthy_mariadb, 100)
    result = run_on(healthy_mariadb.replica, recover_errors=[1032])
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("default connection: SQL thread stopped on error 1062: ")
    assert "Duplicate entry '100'" in result.summary
    assert result.details["connections"]["default"]["last_sql_errno"] == 1062
    assert "recovery" not in result.details
    assert _replica_status(healthy_mariadb)["Slave_SQL_Running"] == "No"


def test_listed_error_is_recovered_once_per_period(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    pair = healthy_mariadb
    options = {
        "recover_errors": [1062],
        "recover_every": 3600,
        "user": RECOVER_USER,
        "password": RECOVER_PASSWORD,
    }

    _duplicate_key(pair, 200)
    result = run_on(pair.replica, now=T0, **options)
    assert result.status is Status.WARNING
    assert (
        "recovered: skipped one event after error 1062 and restarted the SQL thread of "
        "default connection (SET @@SESSION.default_master_connection = ''; "
        "SET GLOBAL sql_slave_skip_counter = 1; START SLAVE SQL_THREAD)" in result.summary
    )
    assert "gtid_slave_pos" in result.summary
    assert result.details["recovery"][""]["done"] is True
    assert _replica_status(pair)["Slave_SQL_Running"] == "Yes"
    # The primary's row was skipped: the replica keeps its own version.
    assert pair.replica.query("SELECT v FROM app.items WHERE id = 200") == [{"v": 7}]

    _duplicate_key(pair, 201)
    result = run_on(pair.replica, now=T0 + timedelta(minutes=10), **options)
    assert result.status is Status.CRITICAL
    assert (
        "not recovered: last recovery at 2026-11-26T12:00:00Z, next allowed at "
        "2026-11-26T13:00:00Z" in result.summary
    )
    assert _replica_status(pair)["Slave_SQL_Running"] == "No"

    result = run_on(pair.replica, now=T0 + timedelta(hours=1), **options)
    assert result.status is Status.WARNING
    assert "recovered: skipped one event after error 1062" in result.summary
    assert _replica_status(pair)["Slave_SQL_Running"] == "Yes"


def test_recovery_without_the_privilege_says_so(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    _duplicate_key(healthy_mariadb, 300)
    result = run_on(healthy_mariadb.replica, recover_errors=[1062])
    assert result.status is Status.CRITICAL
    assert result.summary.endswith(
        "recovery failed at SET GLOBAL sql_slave_skip_counter = 1: (1227) Access denied; "
        "you need (at least one of) the SUPER privilege(s) for this operation"
    )
    assert result.details["recovery"][""]["done"] is False
    assert _replica_status(healthy_mariadb)["Slave_SQL_Running"] == "No"


@pytest.fixture
def row_lock_on_replica(healthy_mariadb: MariaDBPair) -> Iterator[MariaDBPair]:
    """A replica transaction holding row 1 while the primary updates it: the SQL thread waits."""
    pair = healthy_mariadb
    holder = pymysql.connect(unix_socket=str(pair.replica.socket), user="root")
    try:
        with holder.cursor() as db:
            db.execute("BEGIN")
            db.execute("SELECT v FROM app.items WHERE id = 1 FOR UPDATE")
        pair.primary.query("UPDATE app.items SET v = v + 1 WHERE id = 1")
        wait_for(
            lambda: (_replica_status(pair)["Seconds_Behind_Master"] or 0) >= 2,
            timeout=30,
            what="replica falling 2 s behind",
        )
        yield pair
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize(
    ("thresholds", "expected", "words"),
    [
        pytest.param(
            {"lag_warning": 1, "lag_critical": 3600},
            Status.WARNING,
            "(warning at 1 s)",
            id="warning",
        ),
        pytest.param(
            {"lag_warning": 1, "lag_critical": 2},
            Status.CRITICAL,
            "(critical at 2 s)",
            id="critical",
        ),
    ],
)
def test_lagging_replica(
    row_lock_on_replica: MariaDBPair,
    run_on: RunCheck,
    thresholds: dict[str, float],
    expected: Status,
    words: str,
) -> None:
    result = run_on(row_lock_on_replica.replica, **thresholds)
    assert result.status is expected
    assert result.summary.startswith("default connection: ")
    assert " s behind primary 127.0.0.1:" in result.summary
    assert result.summary.endswith(words)
    assert result.metrics["default seconds_behind"] >= 2


def test_delayed_replica_is_judged_beyond_its_delay(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    pair = healthy_mariadb
    pair.replica.query("STOP SLAVE")
    pair.replica.query("CHANGE MASTER TO MASTER_DELAY = 60")
    pair.replica.query("START SLAVE")
    pair.primary.query("UPDATE app.items SET v = v + 1 WHERE id = 2")
    wait_for(
        lambda: (_replica_status(pair)["Seconds_Behind_Master"] or 0) >= 2,
        timeout=30,
        what="delayed replica 2 s behind",
    )
    # 2 s and more behind, but well within the 60 s it is told to wait: not a lag.
    result = run_on(pair.replica, lag_warning=1, lag_critical=3600)
    assert result.status is Status.OK
    assert result.summary.endswith(" s beyond its configured delay of 60 s")
    assert result.details["connections"]["default"]["sql_delay"] == 60


def test_stopped_primary(healthy_mariadb: MariaDBPair, run_on: RunCheck) -> None:
    pair = healthy_mariadb
    pair.primary.stop()
    wait_for(
        lambda: _replica_status(pair)["Slave_IO_Running"] != "Yes",
        timeout=30,
        what="replica IO thread noticing its primary is gone",
    )
    on_replica = run_on(pair.replica)
    assert on_replica.status is Status.CRITICAL
    assert on_replica.summary.startswith("default connection: IO thread connecting (error ")
    assert on_replica.metrics["default io_running"] == 0

    on_primary = run_on(pair.primary)
    assert on_primary.status is Status.UNKNOWN
    assert on_primary.summary.startswith(f"cannot connect to 127.0.0.1:{pair.primary.port}: ")


def test_unreachable_second_source_is_critical_alone(
    healthy_mariadb: MariaDBPair, run_on: RunCheck
) -> None:
    pair = healthy_mariadb
    pair.replica.query(
        "CHANGE MASTER 'offsite' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s,"
        " MASTER_USER='repl', MASTER_PASSWORD='x', MASTER_CONNECT_RETRY=1",
        (free_port(),),
    )
    pair.replica.query("START SLAVE 'offsite'")
    wait_for(
        lambda: _replica_status(pair, "offsite")["Last_IO_Errno"] != 0,
        timeout=30,
        what="the offsite connection failing",
    )
    result = run_on(pair.replica, expected_connections=["", "offsite", "archive"])
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(
        "connection 'archive' is not configured; connection 'offsite': IO thread connecting "
        "(error 2003: "
    )
    assert result.details["connections"]["default"]["status"] == "OK"
    assert result.details["connections"]["offsite"]["status"] == "CRITICAL"


@pytest.mark.parametrize(
    ("server", "summary"),
    [
        pytest.param(
            "replica",
            "replica OK: default channel: 0 s behind primary 127.0.0.1:{port}",
            id="replica",
        ),
        pytest.param("primary", "primary OK: 1 replica streaming", id="primary"),
    ],
)
def test_mysql_spellings_against_mariadb(
    healthy_mariadb: MariaDBPair, run_on: RunCheck, server: str, summary: str
) -> None:
    """engine = "mysql" on a real server: its statements and fallbacks, not MySQL itself.

    MariaDB answers MySQL's SHOW REPLICA STATUS for its default connection; there
    is no MySQL server in the test environment, so this is as close as it gets.
    """
    result = run_on(getattr(healthy_mariadb, server), engine="mysql")
    assert result.status is Status.OK
    assert result.summary == summary.format(port=healthy_mariadb.primary.port)


def test_socket_login_with_my_cnf_file(healthy_mariadb: MariaDBPair, tmp_path: Path) -> None:
    creds = write_credentials(
        tmp_path, f"[client]\nuser={MONITOR_USER}\npassword='{MONITOR_PASSWORD}'\n"
    )
    check = DbReplicationCheck.from_config(
        {"socket": str(healthy_mariadb.replica.socket), "credentials_file": str(creds)},
        CheckContext(state_dir=tmp_path),
    )
    result = run_check(check)
    assert result.status is Status.OK, result.summary


def test_without_credentials_logs_in_as_the_os_account(
    healthy_mariadb: MariaDBPair, tmp_path: Path
) -> None:
    # As root this is the install's root@localhost; anyone else gets an account of
    # their own name that MariaDB authenticates by the socket's peer credentials.
    account = getpass.getuser()
    healthy_mariadb.primary.query(
        "CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED VIA unix_socket", (account,)
    )
    healthy_mariadb.primary.query(
        "GRANT PROCESS, SLAVE MONITOR ON *.* TO %s@'localhost'", (account,)
    )
    check = DbReplicationCheck.from_config(
        {"socket": str(healthy_mariadb.replica.socket)}, CheckContext(state_dir=tmp_path)
    )
    result = run_check(check)
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("replica OK: default connection: 0 s behind primary ")


@pytest.mark.parametrize(
    ("content", "mode", "reason"),
    [
        pytest.param(
            f'user = "{MONITOR_USER}"\npassword = "{MONITOR_PASSWORD}x"\n',
            0o600,
            "cannot connect to 127.0.0.1:{port}: (1045) Access denied for user 'monitor'",
            id="wrong-password",
        ),
        pytest.param(
            f'user = "{MONITOR_USER}"\npassword = "{MONITOR_PASSWORD}"\n',
            0o640,
            "credentials file {path} is accessible by group or others (mode 0640)",
            id="group-readable-file",
        ),
        pytest.param(
            f'user = "{BARE_USER}"\npassword = "{BARE_PASSWORD}"\n',
            0o600,
            "SHOW ALL REPLICAS STATUS failed: (1227) Access denied; you need (at least one of) "
            "the SUPER, SLAVE MONITOR privilege(s)",
            id="missing-privilege",
        ),
    ],
)
def test_cannot_look_is_unknown(
    healthy_mariadb: MariaDBPair, tmp_path: Path, content: str, mode: int, reason: str
) -> None:
    creds = write_credentials(tmp_path, content, mode)
    check = DbReplicationCheck.from_config(
        {"host": "127.0.0.1", "port": healthy_mariadb.replica.port, "credentials_file": str(creds)},
        CheckContext(state_dir=tmp_path),
    )
    result = run_check(check)
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(reason.format(port=healthy_mariadb.replica.port, path=creds))
    wire = json.dumps(result.to_wire("db_replication"))
    assert MONITOR_PASSWORD not in wire
    assert BARE_PASSWORD not in wire
