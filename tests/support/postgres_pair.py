"""A real PostgreSQL primary and streaming standby on loopback ports, for db_replication tests.

``postgres_pair`` (session scope) runs ``initdb`` into a temporary directory, starts
the primary on a free loopback port, clones it with ``pg_basebackup -R`` and starts
the clone as a hot standby named ``standby1`` (its ``cluster_name``, which the WAL
receiver reports as ``application_name``). PostgreSQL refuses to run as root, so
when the tests run as root the servers run as the ``postgres`` OS user (the
``user=`` of :class:`subprocess.Popen`, no shell). A ``monitor`` role with a
password and ``pg_monitor`` is what the check logs in with over TCP::

    def test_x(healthy_postgres):
        healthy_postgres.standby.query("SELECT pg_wal_replay_pause()")
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.services import free_port, port_open, require_tool, wait_for

MONITOR_USER = "monitor"
MONITOR_PASSWORD = "Pg-mon-pw-3a81f0"  # a literal the tests look for in every result
STANDBY_NAME = "standby1"
# A role that may log in but lacks pg_monitor.
NOMONITOR_USER = "nomon"
NOMONITOR_PASSWORD = "Pg-nomon-pw-d41c"

_HBA = """\
local all all trust
local replication all trust
host replication replicator 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root but there is no postgres user (Debian package postgresql)")
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


@dataclass
class PostgresServer:
    """One running postgres: its data directory, port and socket directory."""

    name: str
    bindir: Path
    datadir: Path
    port: int
    socket_dir: Path
    log: Path
    settings: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start postgres and wait until it accepts connections."""
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
        ]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, **_run_as()
            )
        wait_for(self._answers, timeout=60, what=f"postgres {self.name} on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            pytest.fail(f"postgres {self.name} exited with {self.process.returncode}: {tail}")
        if not port_open(self.port):
            return False
        self.query("SELECT 1")
        return True

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Fast shutdown (SIGINT) and wait for the postmaster to exit."""
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A superuser connection over the unix socket (autocommit)."""
        conn = psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            row_factory=dict_row,
            connect_timeout=5,
        )
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        """Run one statement as the superuser; its rows (none for a command)."""
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall()) if cursor.description else []


@dataclass
class PostgresPair:
    """A primary, its streaming standby and the workspace holding both."""

    primary: PostgresServer
    standby: PostgresServer
    workdir: Path

    def streaming(self) -> bool:
        """True when the standby streams and has replayed everything the primary wrote."""
        rows = self.primary.query(
            "SELECT state, replay_lsn = pg_current_wal_lsn() AS synced FROM pg_stat_replication"
            " WHERE application_name = %s",
            (STANDBY_NAME,),
        )
        receiver = self.standby.query("SELECT status FROM pg_stat_wal_receiver")
        return (
            bool(rows)
            and rows[0]["state"] == "streaming"
            and bool(rows[0]["synced"])
            and bool(receiver)
            and receiver[0]["status"] == "streaming"
        )

    def heal(self) -> None:
        """Primary running, replay resumed, standby streaming and caught up."""
        if not self.primary.running():
            self.primary.start()
        paused = self.standby.query("SELECT pg_get_wal_replay_pause_state() AS s")[0]["s"]
        if paused != "not paused":
            self.standby.query("SELECT pg_wal_replay_resume()")
        delay = self.standby.query("SELECT current_setting('recovery_min_apply_delay') AS d")
        if delay[0]["d"] != "0":
            self.standby.query("ALTER SYSTEM RESET recovery_min_apply_delay")
            self.standby.query("SELECT pg_reload_conf()")
        wait_for(self.streaming, timeout=30, what="PostgreSQL standby streaming and caught up")


def _bindir() -> Path:
    """The newest PostgreSQL's server binaries (Debian keeps them out of PATH)."""
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    initdb = installed[-1] if installed else Path(require_tool("initdb", "postgresql")).resolve()
    for tool in ("postgres", "pg_basebackup"):
        if not (initdb.parent / tool).exists():
            require_tool(str(initdb.parent / tool), "postgresql")
    return initdb.parent


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False, **_run_as()
    )
    if done.returncode != 0:
        pytest.fail(f"{what} failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")


@pytest.fixture(scope="session")
def postgres_pair() -> Iterator[PostgresPair]:
    """A PostgreSQL primary and streaming standby on free loopback ports, removed afterwards."""
    bindir = _bindir()
    workdir = Path(tempfile.mkdtemp(prefix="portacare-pg-"))
    _chown(workdir)
    servers: list[PostgresServer] = []
    try:
        primary = PostgresServer(
            "primary", bindir, workdir / "primary", free_port(), workdir, workdir / "primary.log"
        )
        servers.append(primary)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(primary.datadir),
                "-U",
                "postgres",
                "--no-sync",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            "initdb",
        )
        (primary.datadir / "pg_hba.conf").write_text(_HBA)
        primary.start()
        for statement in (
            f"CREATE ROLE {MONITOR_USER} LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor",
            f"CREATE ROLE {NOMONITOR_USER} LOGIN PASSWORD '{NOMONITOR_PASSWORD}'",
            "CREATE ROLE replicator LOGIN REPLICATION",
            "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)",
            "INSERT INTO items (id) VALUES (1), (2), (3)",
        ):
            primary.query(statement)
        standby = PostgresServer(
            "standby",
            bindir,
            workdir / "standby",
            free_port(),
            workdir,
            workdir / "standby.log",
            settings={
                "cluster_name": STANDBY_NAME,
                # Replay waits for a standby query holding a lock instead of cancelling
                # it: how the tests make the standby fall behind.
                "max_standby_streaming_delay": "-1",
                "wal_receiver_status_interval": "1s",
                "wal_retrieve_retry_interval": "500ms",
            },
        )
        _run(
            [
                str(bindir / "pg_basebackup"),
                "-D",
                str(standby.datadir),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "replicator",
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            "pg_basebackup",
        )
        servers.append(standby)
        standby.start()
        pair = PostgresPair(primary, standby, workdir)
        wait_for(pair.streaming, timeout=60, what="PostgreSQL standby streaming")
        yield pair
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def healthy_postgres(postgres_pair: PostgresPair) -> Iterator[PostgresPair]:
    """The session's pair, healed before and after the test that breaks it."""
    postgres_pair.heal()
    yield postgres_pair
    postgres_pair.heal()
