"""db_replication against a real PostgreSQL primary and streaming standby on loopback ports.

Every test starts from a healed pair (primary up, replay running, standby caught
up) and breaks it for real: replay paused, replay held behind a standby query's
lock, the primary stopped, a standby that does not exist.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portacare.checks import CheckContext, CheckResult, Status, run_check
from portacare.checks.db_replication import DbReplicationCheck
from tests.support import postgres_pair as support
from tests.support.mariadb_pair import write_credentials
from tests.support.postgres_pair import (
    MONITOR_PASSWORD,
    MONITOR_USER,
    NOMONITOR_PASSWORD,
    NOMONITOR_USER,
    STANDBY_NAME,
    PostgresPair,
    PostgresServer,
)
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

# The pair's fixtures, used by name below.
postgres_pair = support.postgres_pair
healthy_postgres = support.healthy_postgres

RunCheck = Callable[..., CheckResult]


@pytest.fixture
def run_on(tmp_path: Path) -> RunCheck:
    """Run the check against one server of the pair as the monitor role over TCP."""

    def run(
        server: PostgresServer,
        password: str = MONITOR_PASSWORD,
        user: str = MONITOR_USER,
        **options: Any,
    ) -> CheckResult:
        creds = write_credentials(
            tmp_path,
            f'[client]\nuser = "{user}"\npassword = "{password}"\ndbname = "postgres"\n',
        )
        raw = {
            "engine": "postgresql",
            "host": "127.0.0.1",
            "port": server.port,
            "credentials_file": str(creds),
            **options,
        }
        context = CheckContext(state_dir=tmp_path / "state", instance="orders_pg")
        result = run_check(DbReplicationCheck.from_config(raw, context), timeout=30)
        assert password not in json.dumps(result.to_wire("orders_pg"))
        return result

    return run


def test_primary_with_its_standby_streaming_is_ok(
    healthy_postgres: PostgresPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_postgres.primary, expected_standbys=[STANDBY_NAME])
    assert result.status is Status.OK
    assert result.summary.startswith(f"primary OK: standby '{STANDBY_NAME}' ")
    assert result.summary.endswith(" behind")
    assert result.metrics["standbys_streaming"] == 1
    assert result.details["standbys"][STANDBY_NAME]["state"] == "streaming"
    assert result.details["standbys"][STANDBY_NAME]["client"] == "127.0.0.1"


def test_primary_counts_standbys_by_default(
    healthy_postgres: PostgresPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_postgres.primary)
    assert result.status is Status.OK
    assert result.summary.startswith("primary OK: 1 standby streaming; standby 'standby1' ")


@pytest.mark.parametrize(
    ("options", "summary"),
    [
        pytest.param(
            {"expected_standbys": [STANDBY_NAME, "standby2"]},
            "standby 'standby2' is not connected",
            id="named-standby-missing",
        ),
        pytest.param(
            {"expected_replicas": 2}, "1 standby streaming, expected 2", id="too-few-standbys"
        ),
        pytest.param(
            {"role": "replica"},
            "not a standby: the server is not in recovery",
            id="primary-configured-as-standby",
        ),
    ],
)
def test_primary_problems_are_critical(
    healthy_postgres: PostgresPair, run_on: RunCheck, options: dict[str, Any], summary: str
) -> None:
    result = run_on(healthy_postgres.primary, **options)
    assert result.status is Status.CRITICAL
    assert result.summary == summary


def test_streaming_standby_is_ok(healthy_postgres: PostgresPair, run_on: RunCheck) -> None:
    result = run_on(healthy_postgres.standby)
    assert result.status is Status.OK
    primary = f"127.0.0.1:{healthy_postgres.primary.port}"
    assert result.summary == f"replica OK: replaying 0.0 s / 0 B behind primary {primary}"
    assert result.metrics["wal_receiver_streaming"] == 1
    assert result.metrics["replay_paused"] == 0


def test_standby_with_expected_standbys_checks_its_own_standbys_too(
    healthy_postgres: PostgresPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_postgres.standby, expected_standbys=["cascade1"])
    assert result.status is Status.CRITICAL
    assert result.summary == "standby 'cascade1' is not connected"
    assert result.details["standby"]["wal_receiver"] == "streaming"


def test_standby_configured_as_primary_is_critical(
    healthy_postgres: PostgresPair, run_on: RunCheck
) -> None:
    result = run_on(healthy_postgres.standby, role="primary")
    assert result.status is Status.CRITICAL
    assert result.summary == "not a primary: the server is in recovery (a standby)"


def test_paused_replay_is_critical(healthy_postgres: PostgresPair, run_on: RunCheck) -> None:
    healthy_postgres.standby.query("SELECT pg_wal_replay_pause()")
    wait_for(
        lambda: (
            healthy_postgres.standby.query("SELECT pg_get_wal_replay_pause_state() AS s")[0]["s"]
            == "paused"
        ),
        timeout=10,
        what="replay pausing",
    )
    result = run_on(healthy_postgres.standby)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("WAL replay paused (resume with pg_wal_replay_resume())")
    assert result.metrics["replay_paused"] == 1


@pytest.fixture
def replay_held_by_standby_query(healthy_postgres: PostgresPair) -> Iterator[PostgresPair]:
    """A standby query holding a table while the primary locks it: replay waits behind it."""
    pair = healthy_postgres
    # A transaction replayed first, so the standby knows when it last applied one.
    pair.primary.query("UPDATE items SET v = v + 1 WHERE id = 2")
    wait_for(pair.streaming, timeout=30, what="standby replaying the update")
    with pair.standby.connect() as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM items")
        with pair.primary.connect() as writer, writer.transaction():
            writer.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            writer.execute("UPDATE items SET v = v + 1 WHERE id = 3")
        wait_for(
            lambda: min(_lags(pair)) >= 2.0,
            timeout=30,
            what="standby falling 2 s behind",
        )
        yield pair
        reader.execute("ROLLBACK")


def _lags(pair: PostgresPair) -> tuple[float, float]:
    """Replay lag in seconds as the primary and as the standby see it."""
    on_primary = pair.primary.query(
        "SELECT EXTRACT(EPOCH FROM replay_lag)::float8 AS s FROM pg_stat_replication"
    )
    on_standby = pair.standby.query(
        "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS s"
    )
    primary_s = (on_primary[0]["s"] if on_primary else None) or 0.0
    return primary_s, on_standby[0]["s"] or 0.0


@pytest.mark.parametrize(
    ("server", "options", "status", "limit"),
    [
        pytest.param(
            "standby",
            {"lag_warning": 1, "lag_critical": 3600},
            Status.WARNING,
            "(warning at 1 s)",
            id="standby-warning",
        ),
        pytest.param(
            "standby",
            {"lag_warning": 1, "lag_critical": 2},
            Status.CRITICAL,
            "(critical at 2 s)",
            id="standby-critical",
        ),
        pytest.param(
            "primary",
            {"lag_warning": 1, "lag_critical": 3600},
            Status.WARNING,
            "(warning at 1 s)",
            id="primary-warning",
        ),
        pytest.param(
            "primary",
            {"lag_bytes_critical": 1},
            Status.CRITICAL,
            "(critical at 1 B)",
            id="primary-bytes-critical",
        ),
    ],
)
def test_lagging_standby(
    replay_held_by_standby_query: PostgresPair,
    run_on: RunCheck,
    server: str,
    options: dict[str, Any],
    status: Status,
    limit: str,
) -> None:
    result = run_on(getattr(replay_held_by_standby_query, server), **options)
    assert result.status is status
    subject = "replaying " if server == "standby" else f"standby '{STANDBY_NAME}' "
    assert result.summary.startswith(subject)
    assert limit in result.summary


def test_delayed_standby_is_judged_beyond_its_delay(
    healthy_postgres: PostgresPair, run_on: RunCheck
) -> None:
    pair = healthy_postgres
    pair.primary.query("UPDATE items SET v = v + 1 WHERE id = 1")
    wait_for(pair.streaming, timeout=30, what="standby replaying the update")
    pair.standby.query("ALTER SYSTEM SET recovery_min_apply_delay = '60s'")
    pair.standby.query("SELECT pg_reload_conf()")
    wait_for(
        lambda: (
            pair.standby.query("SELECT current_setting('recovery_min_apply_delay') AS d")[0]["d"]
            == "1min"
        ),
        timeout=10,
        what="standby reloading its configuration",
    )
    pair.primary.query("UPDATE items SET v = v + 1 WHERE id = 1")
    wait_for(lambda: _lags(pair)[1] >= 2.0, timeout=30, what="delayed standby 2 s behind")
    # 2 s and more behind, but well within the minute it is told to wait: not a lag.
    result = run_on(pair.standby, lag_warning=1, lag_critical=3600)
    assert result.status is Status.OK
    assert result.summary.endswith(" beyond its configured delay of 60 s")
    assert result.details["standby"]["apply_delay_s"] == 60


def test_stopped_primary(healthy_postgres: PostgresPair, run_on: RunCheck) -> None:
    pair = healthy_postgres
    pair.primary.stop()
    wait_for(
        lambda: (
            not pair.standby.query("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'")
        ),
        timeout=30,
        what="standby noticing its primary is gone",
    )
    on_standby = run_on(pair.standby)
    assert on_standby.status is Status.CRITICAL
    assert on_standby.summary.startswith(
        ("no WAL receiver running: not streaming from the primary", "WAL receiver ")
    )
    assert on_standby.metrics["wal_receiver_streaming"] == 0

    on_primary = run_on(pair.primary)
    assert on_primary.status is Status.UNKNOWN
    assert on_primary.summary.startswith(f"cannot connect to 127.0.0.1:{pair.primary.port}: ")


def test_socket_directory_login(healthy_postgres: PostgresPair, tmp_path: Path) -> None:
    creds = write_credentials(tmp_path, f"[client]\nuser={MONITOR_USER}\ndatabase=postgres\n")
    standby = healthy_postgres.standby
    check = DbReplicationCheck.from_config(
        {
            "engine": "postgresql",
            "socket": str(standby.socket_dir),
            "port": standby.port,
            "credentials_file": str(creds),
        },
        CheckContext(state_dir=tmp_path),
    )
    result = run_check(check)
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("replica OK: replaying ")


@pytest.mark.parametrize(
    ("server", "what"),
    [
        pytest.param("primary", "standbys' state", id="primary"),
        pytest.param("standby", "WAL receiver", id="standby"),
    ],
)
def test_role_without_pg_monitor_is_unknown(
    healthy_postgres: PostgresPair, run_on: RunCheck, server: str, what: str
) -> None:
    # Such a role sees the rows with every detail NULL: "cannot see", not "stopped".
    result = run_on(
        getattr(healthy_postgres, server), user=NOMONITOR_USER, password=NOMONITOR_PASSWORD
    )
    assert result.status is Status.UNKNOWN
    assert result.summary == (
        f"cannot see the {what}: the monitoring role needs pg_monitor (GRANT pg_monitor TO ...)"
    )


def test_wrong_password_is_unknown(healthy_postgres: PostgresPair, run_on: RunCheck) -> None:
    result = run_on(healthy_postgres.standby, password=MONITOR_PASSWORD + "x")
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(f"cannot connect to 127.0.0.1:{healthy_postgres.standby.port}")
    # The runner's scrub() stars whatever follows the word "password", so libpq's
    # "password authentication failed" reads "password ******** failed" here.
    assert result.summary.endswith('failed for user "monitor"')


def test_without_psql_is_unknown_and_says_what_to_install(
    healthy_postgres: PostgresPair, run_on: RunCheck, tmp_path: Path
) -> None:
    # The check asks through PostgreSQL's own client; without it there is nothing to judge.
    missing = tmp_path / "no-such-dir" / "psql"
    result = run_on(healthy_postgres.primary, psql=str(missing))
    assert result.status is Status.UNKNOWN
    assert result.summary == (
        f"cannot run {str(missing)!r}: PostgreSQL's client is needed "
        "(Debian: postgresql-client; RHEL: postgresql)"
    )


def test_the_password_stays_off_the_command_line(
    healthy_postgres: PostgresPair, run_on: RunCheck, tmp_path: Path
) -> None:
    # A psql stand-in records its argv and whether libpq would find the password in its
    # environment, then runs the real client: ps(1) shows argv to every user on the host.
    record = tmp_path / "argv.txt"
    wrapper = tmp_path / "psql"
    real = shutil.which("psql")
    assert real is not None
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" "${{PGPASSWORD:+password in environment}}" >> "{record}"\n'
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(0o700)
    result = run_on(healthy_postgres.primary, psql=str(wrapper))
    assert result.status is Status.OK, result.summary
    seen = record.read_text()
    assert MONITOR_PASSWORD not in seen
    assert "password in environment" in seen
