"""What the benchmarks run on: Debian tools, loopback ports, processes, throwaway databases."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: ports that belong to others on this machine: never start anything there
RESERVED_PORTS = {5432, 3306, 8470}


class BenchError(Exception):
    """A benchmark could not be set up (a tool missing, a service that would not start)."""


def install_debian_packages() -> str | None:
    """Install what ``bench/debian-packages.txt`` lists; the error text when that fails."""
    script = ROOT / "scripts" / "install-debian-packages"
    for attempt in range(30):  # another apt-get may hold the dpkg lock for a while
        done = subprocess.run(
            [str(script), str(BENCH / "debian-packages.txt")], capture_output=True, text=True
        )
        if done.returncode == 0:
            return None
        if "lock" not in done.stderr or attempt == 29:
            return (done.stderr or done.stdout).strip()[-2000:]
        time.sleep(10)
    return "dpkg lock held too long"


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise BenchError(f"{what} not ready after {timeout:.0f} s" + (f": {last}" if last else ""))


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return bool(answer.status == 200)


class Service:
    """A process this run started; stopped with SIGTERM (then SIGKILL) by its own pid."""

    def __init__(
        self,
        argv: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise BenchError(f"exited with {self.process.returncode}: {tail}")

    def stop(self) -> None:
        """SIGTERM to the process, then SIGKILL to it and any child it left (by pid)."""
        import psutil

        if self.process.poll() is not None:
            return
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for child in children:  # psutil checks the pid still names the same process
            with contextlib.suppress(psutil.Error):
                child.kill()


def start_http_service(
    argv: list[str],
    log: Path,
    health_url: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Service:
    service = Service(argv, log, env, cwd)

    def up() -> bool:
        service.check_alive()
        return http_ok(health_url)

    try:
        wait_for(up, timeout, f"{argv[0]} ({health_url})")
    except BaseException:
        service.stop()
        raise
    return service


def postgres_available() -> str | None:
    """None when the PostgreSQL at 127.0.0.1:5432 answers; else why not."""
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip()


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new database ``portacare_bench_<random>``, dropped afterwards; yields its URL."""
    name = f"portacare_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def which(tool: str) -> str | None:
    return shutil.which(tool)


def machine() -> dict[str, object]:
    """What the numbers were measured on, including how busy it was."""
    import platform

    import psutil

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "collector", "agent", "checks", "sla")
    return {
        "revision": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted_changes": [line[3:] for line in changed.splitlines()],
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
