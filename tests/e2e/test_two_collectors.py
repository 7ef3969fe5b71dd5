"""Two collector processes on one database: one ticket, one delivery per step, one sweep's work.

Uniqueness lives in the database (unique constraints, row locks, SKIP LOCKED on
PostgreSQL; one writer at a time on SQLite), never in process memory; this proves
it with real processes racing: two collectors on one PostgreSQL, two on one SQLite
file, and one ``serve --workers 2`` whose worker processes share a port.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path

import psutil
import pytest
import requests

from portacare.checks import format_time, utc_now

from ..support.databases import fresh_database_url
from ..support.processes import BIN, CollectorProcess
from ..support.receivers import SmtpSink

pytestmark = pytest.mark.e2e

HOSTS = [f"h{i}.acme.example" for i in range(8)]


def _config(path: Path, smtp: SmtpSink) -> Path:
    path.write_text(
        f"""
[collector]
sweep_in_serve = false

[contacts]
on_duty = ["duty@vendor.example"]
technical_support_manager = ["tsm@vendor.example"]

[customers.acme]
hosts = ["*.acme.example"]
contacts = ["noc@acme.example"]

[smtp]
host = "127.0.0.1"
port = {smtp.port}
"""
    )
    return path


def _body(host: str, batch_id: str) -> dict:
    now = format_time(utc_now())
    return {
        "host": host,
        "batch_id": batch_id,
        "results": [
            {"check": check, "status": "CRITICAL", "summary": f"{check} down", "observed_at": now}
            for check in ("security", "disk", "ntp")
        ],
    }


def _race(calls: list) -> list:
    """Run the calls at the same moment, each on its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize(
    ("backend", "workers"),
    [
        pytest.param("postgresql", 1, id="two collectors on one PostgreSQL"),
        pytest.param("sqlite", 1, id="two collectors on one SQLite file"),
        pytest.param("sqlite", 2, id="serve --workers 2 on SQLite"),
    ],
)
def test_two_collectors_on_one_database(
    tmp_path: Path, smtp_sink: SmtpSink, backend: str, workers: int
) -> None:
    database = fresh_database_url(backend, tmp_path)
    url = next(database)
    try:
        config = _config(tmp_path / "collector.toml", smtp_sink)
        one = CollectorProcess(tmp_path, url, config=config)
        two = CollectorProcess(tmp_path, url, config=config) if workers == 1 else one
        one.cli("migrate")
        tokens = {host: one.cli("token", "create", "--host", host) for host in HOSTS}
        noc = one.cli("token", "create", "--role", "noc", "--name", "race")
        if workers == 1:
            one.start()
            two.start()
        else:  # the port's connections are spread over the workers by the kernel
            one.start("--workers", str(workers))
            assert one.process is not None
            assert len(psutil.Process(one.process.pid).children(recursive=True)) >= workers
        try:

            def post(collector: CollectorProcess, host: str, batch_id: str):  # noqa: ANN202
                return lambda: requests.post(
                    f"{collector.url}/api/v1/results",
                    json=_body(host, batch_id),
                    headers={"Authorization": f"Bearer {tokens[host]}"},
                    timeout=60,
                )

            calls = []
            for host in HOSTS:
                same = uuid.uuid4().hex  # a retried batch reaching both replicas
                calls += [post(one, host, same), post(two, host, same)]
                calls += [post(one, host, uuid.uuid4().hex), post(two, host, uuid.uuid4().hex)]
            responses = _race(calls)
            assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
            duplicates = [r.json()["duplicate"] for r in responses]
            assert duplicates.count(True) == len(HOSTS)  # each shared batch stored once
            tickets = one.get("/api/v1/tickets", noc)
            assert Counter((t["host"], t["check"]) for t in tickets) == Counter(
                {(h, c): 1 for h in HOSTS for c in ("security", "disk", "ntp")}
            )
            history = one.get(f"/api/v1/hosts/{HOSTS[0]}/checks/disk/results", noc)
            assert len(history) == 3  # the shared batch once, the two others once each
        finally:
            one.stop()
            two.stop()

        at = format_time(utc_now())

        def sweep() -> str:
            return subprocess.run(
                [str(BIN / "portacare-collector"), "--config", str(config), "sweep", "--at", at],
                env=one.env(),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout

        _race([sweep, sweep, sweep])
        _race([sweep, sweep])  # and again at the same moment: nothing new
        mails = Counter((rcpt, subject) for rcpt, subject in smtp_sink.accepted)
        assert all(count == 1 for count in mails.values()), mails.most_common(3)
        escalations = [r for r, s in smtp_sink.accepted if "escalation to" in s]
        assert sorted(escalations) == ["tsm@vendor.example"] * len(HOSTS)  # P1: TSM at once
        opened = [s for r, s in smtp_sink.accepted if r == "noc@acme.example"]
        assert len(opened) == 3 * len(HOSTS)
    finally:
        next(database, None)
