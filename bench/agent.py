"""The agent's footprint: ``portacare-agent run`` with every built-in check at default intervals.

The agent pushes to a real collector (SQLite, loopback). Its options point every
check at something on this machine (a backup folder made here, the PostgreSQL on
127.0.0.1, a Nagios plugin, loopback NTP and DNS addresses) so each one runs its
whole course; what status a check finds does not matter here. psutil samples the
process every half second: resident memory (peak and mean) and CPU time,
including finished child processes (plugins, nft, apt), over ``plan.agent_seconds``
after the first runs have settled. Baseline: a bare interpreter that imports the
same third-party libraries the agent has imported by then, defines one msgspec struct
(as the agent's options are) and sleeps, measured the same way. That is
not every dependency: the agent pushes through the standard library (no
``requests``), asks PostgreSQL through ``psql`` (no psycopg), and with ``engine =
"postgresql"`` it never imports PyMySQL; ``zstandard`` (optional, in the dev
environment) is imported by the backups check.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from .env import BIN, postgres_available
from .ingest import create_agents, start_collector
from .plan import Plan
from .report import Figure, Report

RSS_TARGET_MB = 40.0
CPU_TARGET_PCT = 1.0
# One struct, as the agent's options are (checks/options.py: msgspec, where pydantic's schema
# machinery held about 9 MB of the agent's memory).
BASELINE_IMPORTS = (
    "import psutil, msgspec, ntplib, dns.resolver, zstandard, time; "
    "type('Options', (msgspec.Struct,), {'__annotations__': {'interval': float}})"
)


@dataclass
class Footprint:
    rss_peak_mb: float
    rss_mean_mb: float
    cpu_pct: float  # of one core, over the window
    cpu_pct_from_start: float
    seconds: float
    started_at: datetime
    ended_at: datetime


def list_checks() -> list[str]:
    done = subprocess.run(
        [str(BIN / "portacare-agent"), "list-checks"], capture_output=True, text=True, check=True
    )
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def _config(workdir: Path, collector: str, host: str, checks: list[str]) -> Path:
    backups = workdir / "backups"
    backups.mkdir()
    member = workdir / "etc-hostname"
    member.write_text("bench\n", encoding="utf-8")
    with tarfile.open(backups / "etc-2026.tar.gz", "w:gz") as tar:
        tar.add(member, arcname="etc/hostname")
    credentials = workdir / "pg.toml"
    credentials.write_text('user = "postgres"\n', encoding="utf-8")
    credentials.chmod(0o600)
    plugin = Path("/usr/lib/nagios/plugins/check_load")
    nagios = (
        f'["{plugin}", "-w", "5,5,5", "-c", "10,10,10"]' if plugin.exists() else '["/bin/true"]'
    )
    options = {
        "backups": f'[checks.backups.sets.etc]\ndirectory = "{backups}"\n'
        'pattern = "etc-*.tar.gz"\nmax_age = 26\n',
        "db_replication": 'engine = "postgresql"\nhost = "127.0.0.1"\nport = 5432\n'
        f'credentials_file = "{credentials}"\n',
        "dns": 'hostname = "localhost"\nresolvers = [{ address = "127.0.0.1", port = 53 }]\n',
        "ntp": 'servers = [{ host = "127.0.0.1", port = 123 }]\n',
        "nagios": f"command = {nagios}\n",
    }
    lines = [
        "[agent]",
        f'collector = "{collector}"',
        f'host = "{host}"',
        f'token_file = "{workdir / "agent.token"}"',
        f'state_dir = "{workdir / "state"}"',
        "",
    ]
    for name in checks:
        extra = options.get(name, "")
        # a sub-table must follow its check's own keys
        own, _, sub = extra.partition("[checks.")
        lines += [f"[checks.{name}]", own.rstrip()]
        if sub:
            lines.append("[checks." + sub.rstrip())
        lines.append("")
    path = workdir / "agent.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def measure(process: subprocess.Popen[bytes], settle: float, window: float) -> Footprint:
    p = psutil.Process(process.pid)
    launched = time.monotonic()
    time.sleep(settle)
    cpu0, t0 = _cpu_seconds(p), time.monotonic()
    started_at = datetime.now(UTC)
    samples: list[float] = []
    while time.monotonic() - t0 < window:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} while measured")
        samples.append(p.memory_info().rss / 2**20)
        time.sleep(0.5)
    cpu1, t1 = _cpu_seconds(p), time.monotonic()
    ended_at = datetime.now(UTC)
    return Footprint(
        rss_peak_mb=max(samples),
        rss_mean_mb=sum(samples) / len(samples),
        cpu_pct=100 * (cpu1 - cpu0) / (t1 - t0),
        cpu_pct_from_start=100 * cpu1 / (t1 - launched),
        seconds=t1 - t0,
        started_at=started_at,
        ended_at=ended_at,
    )


def run(plan: Plan, report: Report) -> None:
    checks = list_checks()
    if "db_replication" in checks and postgres_available() is not None:
        report.problems.append("agent: PostgreSQL unavailable, db_replication finds nothing")
    with tempfile.TemporaryDirectory(prefix="portacare-bench-agent-") as tmp:
        workdir = Path(tmp)
        db = f"sqlite:///{workdir / 'collector.sqlite3'}"
        host, token = create_agents(db, 1)[0]
        (workdir / "agent.token").write_text(token + "\n", encoding="utf-8")
        (workdir / "agent.token").chmod(0o600)
        collector, url = start_collector(workdir, db, "agent-collector")
        try:
            config = _config(workdir, url, host, checks)
            window = plan.agent_seconds
            settle = plan.agent_settle_seconds
            print(
                f"agent: {len(checks)} checks, {settle:.0f} s settle + {window:.0f} s", flush=True
            )
            with (workdir / "agent.log").open("ab") as log:
                agent = subprocess.Popen(
                    [str(BIN / "portacare-agent"), "run", "--config", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                got = measure(agent, settle, window)
                time.sleep(12)  # the agent pushes every 10 s: let the window's results arrive
            finally:
                agent.terminate()
                agent.wait(timeout=30)
            bare = subprocess.Popen(
                [sys.executable, "-c", f"{BASELINE_IMPORTS}; time.sleep({settle + window + 30})"]
            )
            try:
                floor = measure(bare, 3, min(window, 20))  # it only sleeps
            finally:
                bare.terminate()
                bare.wait(timeout=30)
            pushed = _results_stored(db)
            in_window = _runs_between(db, got.started_at, got.ended_at)
        finally:
            collector.stop()
    label = f"agent with all {len(checks)} built-in checks"
    baseline = "bare interpreter importing the same libraries"
    report.sizes["agent checks"] = ", ".join(checks)
    report.sizes["agent window"] = f"{window:.0f} s after {settle:.0f} s"
    report.add(
        Figure(
            "agent",
            f"{label}: resident memory (peak)",
            got.rss_peak_mb,
            "MB",
            {baseline: floor.rss_peak_mb},
            f"< {RSS_TARGET_MB:.0f} MB",
            got.rss_peak_mb < RSS_TARGET_MB,
            note=f"mean {got.rss_mean_mb:.1f} MB, "
            f"{got.rss_peak_mb - floor.rss_peak_mb:.1f} MB over the baseline; "
            f"{pushed} results reached the collector",
        )
    )
    ran = ", ".join(f"{name} ×{n}" for name, n in sorted(in_window.items())) or "none"
    report.add(
        Figure(
            "agent",
            f"{label}: CPU, % of one core",
            got.cpu_pct,
            "%",
            {baseline: floor.cpu_pct},
            f"< {CPU_TARGET_PCT:.0f} %",
            got.cpu_pct < CPU_TARGET_PCT,
            note=f"from launch, startup included: {got.cpu_pct_from_start:.2f} %; "
            f"{got.cpu_pct - floor.cpu_pct:.2f} points over the baseline; "
            f"results observed in the window: {ran} (a check whose default interval "
            "is longer than the window ran at startup, then runs less often)",
        )
    )


def _runs_between(database_url: str, start: datetime, end: datetime) -> dict[str, int]:
    """How many results of each check were observed between ``start`` and ``end``."""
    from sqlalchemy import func, select

    from portacare.collector.db import make_engine
    from portacare.collector.history import HISTORY_TABLES

    engine = make_engine(database_url)
    runs: dict[str, int] = {}
    with engine.connect() as conn:
        for model in HISTORY_TABLES:  # filed into the history or not yet
            rows = conn.execute(
                select(model.check, func.count())
                .where(model.observed_at >= start, model.observed_at <= end)
                .group_by(model.check)
            ).all()
            for check, n in rows:
                runs[str(check)] = runs.get(str(check), 0) + int(n)
    engine.dispose()
    return runs


def _results_stored(database_url: str) -> int:
    from .ingest import stored_results

    return stored_results(database_url)
