"""The database goes away: the collector answers 503 (agents keep spooling) and recovers alone.

Runs on a private PostgreSQL server started for this test, so it can be
stopped and started again without touching anyone else's database.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portacare.collector import db

from ...support.collector import Collector, build_collector, result
from ...support.postgres_pair import PostgresServer, _bindir, _chown, _run
from ...support.services import free_port


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    bindir = _bindir()
    workdir = Path(tempfile.mkdtemp(prefix="portacare-outage-"))
    _chown(workdir)
    server = PostgresServer(
        "outage", bindir, workdir / "data", free_port(), workdir, workdir / "server.log"
    )
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(server.datadir),
            "-U",
            "postgres",
            "--no-sync",
            "--auth=trust",
        ],
        "initdb",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def on_private(private_postgres: PostgresServer) -> Iterator[Collector]:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{private_postgres.port}/postgres"
    yield from build_collector(url)


def test_database_down_is_503_and_recovery_needs_nobody(
    on_private: Collector, private_postgres: PostgresServer
) -> None:
    assert on_private.push("sw1", [result("disk", "OK")]).status_code == 202
    noc = on_private.noc_token()
    private_postgres.stop()
    down = on_private.push("sw1", [result("disk", "CRITICAL")])
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert "database unavailable" in down.json()["detail"]
    reading = on_private.client.get("/api/v1/hosts", headers=on_private.auth(noc))
    assert reading.status_code == 503
    private_postgres.start()
    assert on_private.push("sw1", [result("disk", "CRITICAL")]).status_code == 202
    [ticket] = on_private.get("/api/v1/tickets")
    assert ticket["check"] == "disk"


def test_a_server_restarted_while_idle_costs_no_request_its_answer(
    on_private: Collector, private_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    noc = on_private.noc_token()
    hosts = "/api/v1/hosts"
    assert on_private.client.get(hosts, headers=on_private.auth(noc)).status_code == 200
    # without the idle ping a pooled connection of the old server is handed out: 503 once
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    private_postgres.stop()
    private_postgres.start()
    assert on_private.client.get(hosts, headers=on_private.auth(noc)).status_code == 503
    assert on_private.client.get(hosts, headers=on_private.auth(noc)).status_code == 200
    # with it, a connection idle for longer is pinged, found dead and replaced at checkout
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    private_postgres.stop()
    private_postgres.start()
    assert on_private.client.get(hosts, headers=on_private.auth(noc)).status_code == 200
    assert on_private.push("sw1", [result("disk", "OK")]).status_code == 202
