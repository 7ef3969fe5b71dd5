"""The real logrotate, run by tests over logs in a temporary folder with its own state file.

    sandbox = LogrotateSandbox(tmp_path, logrotate_binary)  # or the logrotate_sandbox fixture
    log = sandbox.write_log("app.log", 2048)
    sandbox.rotate(sandbox.config("app.log", "compress", "delaycompress"), times=3)

Nothing touches the host's /var/log or /var/lib/logrotate: every run is
``logrotate -s STATE [-f] CONF`` over paths under the sandbox.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import require_tool

__all__ = ["LogrotateSandbox", "logrotate_binary_fixture", "logrotate_sandbox_fixture"]


class LogrotateSandbox:
    """A folder of logs, logrotate configurations and a state file of its own."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.logs = root / "log"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state = root / "logrotate.status"

    def write_log(self, name: str, size: int, line: str = "service: something happened") -> Path:
        """Append about ``size`` bytes of log lines to ``name`` (created if missing)."""
        path = self.logs / name
        text = (line + "\n") * max(1, size // (len(line) + 1))
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def config(self, name: str, *directives: str, conf_name: str | None = None) -> Path:
        """A logrotate configuration rotating ``name`` with ``directives``."""
        body = "\n".join(f"    {d}" for d in ("rotate 5", "missingok", "create", *directives))
        conf = self.root / (conf_name or f"{name}.conf")
        conf.write_text(f"{self.logs / name} {{\n{body}\n}}\n", encoding="utf-8")
        return conf

    def rotate(
        self, conf: Path, *, force: bool = True, times: int = 1, state: Path | None = None
    ) -> None:
        """Run the real logrotate ``times`` times, writing to the log between runs."""
        for _ in range(times):
            for line in conf.read_text(encoding="utf-8").splitlines():
                if line.startswith(str(self.logs)):
                    log = Path(line.split()[0])
                    self.write_log(log.name, 512)
            argv = [self.binary, "-s", str(state or self.state)]
            if force:
                argv.append("-f")
            done = subprocess.run([*argv, str(conf)], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.fail(f"logrotate failed ({done.returncode}): {done.stderr}")

    def age(self, path: Path, hours: float) -> Path:
        """Set ``path``'s times to ``hours`` ago, as if it had been left alone since."""
        moment = time.time() - hours * 3600
        os.utime(path, (moment, moment))
        return path


@pytest.fixture(scope="session", name="logrotate_binary")
def logrotate_binary_fixture() -> str:
    """The logrotate executable (Debian package logrotate)."""
    return require_tool("logrotate", "logrotate")


@pytest.fixture(name="logrotate_sandbox")
def logrotate_sandbox_fixture(logrotate_binary: str, tmp_path: Path) -> Iterator[LogrotateSandbox]:
    """A fresh sandbox per test, removed with the test's temporary folder."""
    yield LogrotateSandbox(tmp_path / "logrotate", logrotate_binary)
