"""A real MariaDB primary and GTID replica on loopback ports, for the db_replication tests.

``mariadb_pair`` (session scope) installs one datadir with ``mariadb-install-db``,
copies it for the replica, starts two ``mariadbd`` on free loopback ports with
their own sockets, and sets up GTID replication (``MASTER_USE_GTID=slave_pos``)
with a short connect retry so a restarted primary is found again quickly. A
``monitor`` account with a password is what the check logs in with; root logs
in over the socket without one to break things. Everything is torn down and
removed at the end of the session::

    def test_x(mariadb_pair):
        with mariadb_pair.replica.root() as db:
            db.execute("STOP SLAVE SQL_THREAD")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.support.services import free_port, port_open, require_tool, wait_for

MONITOR_USER = "monitor"
MONITOR_PASSWORD = "Mon-pw-4c7b1e"  # a literal the tests look for in every result
# MariaDB 10.11 still wants SUPER for SET GLOBAL sql_slave_skip_counter, so recovery
# needs an account beyond what monitoring needs.
RECOVER_USER = "fixer"
RECOVER_PASSWORD = "Fix-pw-55e0a1"
# An account that may log in and nothing more.
BARE_USER = "bare"
BARE_PASSWORD = "Bare-pw-07c3d2"
# An account that may read replication status but not other sessions' threads.
NOPROCESS_USER = "noproc"
NOPROCESS_PASSWORD = "Noproc-pw-6b19e4"
REPL_USER = "repl"
REPL_PASSWORD = "repl-pw-91d2"
#: Tests insert rows from this id up; healing removes them on both sides.
TEST_ROWS = 100
# mariadbd refuses to run as root unless told to; as anyone else it runs as itself.
_AS_ROOT = ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class MariaDBServer:
    """One running mariadbd: where it listens and how to reach it as root."""

    name: str
    datadir: Path
    port: int
    socket: Path
    server_id: int
    binary: str
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start mariadbd and wait until it accepts connections."""
        argv = [
            self.binary,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--server-id={self.server_id}",
            "--log-bin=mariadb-bin",
            "--binlog-format=ROW",
            f"--pid-file={self.datadir / 'mariadbd.pid'}",
            f"--log-error={self.log}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--innodb-lock-wait-timeout=120",
            # replication on a small test pair: heartbeats and retries in seconds, not minutes
            "--slave-net-timeout=4",
            *_AS_ROOT,
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, timeout=60, what=f"mariadbd {self.name} on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"mariadbd {self.name} exited with {self.process.returncode}: {log}")
        if not port_open(self.port):
            return False
        with self.root() as db:
            db.execute("SELECT 1")
        return True

    def stop(self) -> None:
        """Shut mariadbd down cleanly and wait for it to exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @contextlib.contextmanager
    def root(self) -> Iterator[Any]:
        """A root cursor over the unix socket (autocommit)."""
        conn = pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            autocommit=True,
            connect_timeout=5,
            cursorclass=pymysql.cursors.DictCursor,
        )
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        """Run one statement as root and return its rows."""
        with self.root() as db:
            db.execute(sql, args)
            return list(db.fetchall())


@dataclass
class MariaDBPair:
    """A primary, its GTID replica, and the workspace holding both."""

    primary: MariaDBServer
    replica: MariaDBServer
    workdir: Path

    def replica_status(self, connection: str = "") -> dict[str, Any]:
        """The replica's status row for ``connection`` ('' is the default connection)."""
        rows = self.replica.query("SHOW ALL SLAVES STATUS")
        for row in rows:
            if row["Connection_name"] == connection:
                return row
        raise AssertionError(f"no replication connection {connection!r} on the replica")

    def wait_caught_up(self, timeout: float = 30) -> None:
        """Wait until both threads run and the replica has applied all of the primary's GTIDs."""

        def caught_up() -> bool:
            status = self.replica_status()
            if status["Slave_IO_Running"] != "Yes" or status["Slave_SQL_Running"] != "Yes":
                return False
            primary_pos = self.primary.query("SELECT @@gtid_binlog_pos AS pos")[0]["pos"]
            replica_pos = self.replica.query("SELECT @@gtid_slave_pos AS pos")[0]["pos"]
            return primary_pos == replica_pos and status["Seconds_Behind_Master"] == 0

        wait_for(caught_up, timeout=timeout, what="MariaDB replica catching up")

    def heal(self) -> None:
        """Bring replication back to healthy: extra connections gone, threads running, in sync.

        Tests break the pair on purpose; each starts from this state so their order
        does not matter. Rows with ``id >= TEST_ROWS`` are the tests' own (duplicate
        keys, skipped events): they are removed on each side without replicating, so
        the two sides hold the same rows again.
        """
        if self.primary.process is None or self.primary.process.poll() is not None:
            self.primary.start()
        for row in self.replica.query("SHOW ALL SLAVES STATUS"):
            name = row["Connection_name"]
            if name:
                self.replica.query("STOP SLAVE %s", (name,))
                self.replica.query("RESET SLAVE %s ALL", (name,))
        self.replica.query("STOP SLAVE")
        self.replica.query("CHANGE MASTER TO MASTER_DELAY = 0")
        self._drop_test_rows(self.replica)
        self.replica.query("START SLAVE")
        self.wait_caught_up()
        for server in (self.primary, self.replica):
            self._drop_test_rows(server)

    @staticmethod
    def _drop_test_rows(server: MariaDBServer) -> None:
        with server.root() as db:
            db.execute("SET SESSION sql_log_bin = 0")
            db.execute("DELETE FROM app.items WHERE id >= %s", (TEST_ROWS,))


def _install(install_db: str, datadir: Path) -> None:
    done = subprocess.run(
        [
            install_db,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            *_AS_ROOT,
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"mariadb-install-db failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")


@pytest.fixture(scope="session")
def mariadb_pair() -> Iterator[MariaDBPair]:
    """A MariaDB primary and GTID replica on free loopback ports, removed afterwards."""
    binary = require_tool("mariadbd", "mariadb-server")
    install_db = require_tool("mariadb-install-db", "mariadb-server")
    workdir = Path(tempfile.mkdtemp(prefix="portacare-mariadb-"))
    servers: list[MariaDBServer] = []
    try:
        template = workdir / "template"
        _install(install_db, template)
        for server_id, name in ((1, "primary"), (2, "replica")):
            datadir = workdir / name
            shutil.copytree(template, datadir, symlinks=True)
            servers.append(
                MariaDBServer(
                    name=name,
                    datadir=datadir,
                    port=free_port(),
                    socket=workdir / f"{name}.sock",
                    server_id=server_id,
                    binary=binary,
                    log=workdir / f"{name}.err",
                )
            )
        primary, replica = servers
        for server in servers:
            server.start()
        # The replica copied the same install, so both hold the same system tables; only
        # what follows is replicated.
        for statement, args in [
            ("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (REPL_USER, REPL_PASSWORD)),
            ("GRANT REPLICATION SLAVE ON *.* TO %s@'127.0.0.1'", (REPL_USER,)),
            ("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (MONITOR_USER, MONITOR_PASSWORD)),
            ("CREATE USER %s@'localhost' IDENTIFIED BY %s", (MONITOR_USER, MONITOR_PASSWORD)),
            # Exactly what docs/checks/db_replication.md says monitoring needs.
            ("GRANT PROCESS, SLAVE MONITOR ON *.* TO %s@'127.0.0.1'", (MONITOR_USER,)),
            ("GRANT PROCESS, SLAVE MONITOR ON *.* TO %s@'localhost'", (MONITOR_USER,)),
            ("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (RECOVER_USER, RECOVER_PASSWORD)),
            (
                "GRANT SUPER, PROCESS, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.*"
                " TO %s@'127.0.0.1'",
                (RECOVER_USER,),
            ),
            ("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (BARE_USER, BARE_PASSWORD)),
            (
                "CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s",
                (NOPROCESS_USER, NOPROCESS_PASSWORD),
            ),
            ("GRANT SLAVE MONITOR ON *.* TO %s@'127.0.0.1'", (NOPROCESS_USER,)),
            ("CREATE DATABASE app", None),
            (
                "CREATE TABLE app.items (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 0)"
                " ENGINE=InnoDB",
                None,
            ),
            ("INSERT INTO app.items (id) VALUES (1), (2), (3)", None),
        ]:
            primary.query(statement, args)
        replica.query("SET GLOBAL read_only = 0")
        replica.query(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s,"
            " MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            (primary.port, REPL_USER, REPL_PASSWORD),
        )
        replica.query("START SLAVE")
        pair = MariaDBPair(primary, replica, workdir)
        pair.wait_caught_up(timeout=60)
        yield pair
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def healthy_mariadb(mariadb_pair: MariaDBPair) -> Iterator[MariaDBPair]:
    """The session's pair, healed before and after the test that breaks it."""
    mariadb_pair.heal()
    yield mariadb_pair
    mariadb_pair.heal()


def write_credentials(directory: Path, text: str, mode: int = 0o600, name: str = "db.cnf") -> Path:
    """A credentials file with ``text`` and ``mode`` (the check refuses group/world access)."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path
