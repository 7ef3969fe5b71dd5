"""The collector and the agent as real processes, the way an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .services import free_port, wait_for

BIN = Path(sys.executable).parent
E2E_CHECKS = Path(__file__).resolve().parent.parent / "fixtures" / "e2e_checks"


@dataclass
class CollectorProcess:
    """``portacare-collector serve`` on a loopback port, restartable on the same port."""

    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    config: Path | None = None

    def _command(self) -> list[str]:
        command = [str(BIN / "portacare-collector")]
        return command + (["--config", str(self.config)] if self.config else [])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PORTACARE_DATABASE_URL": self.database_url}

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*self._command(), *args],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def start(self, *extra: str) -> None:
        with (self.workdir / "collector.log").open("ab") as log:  # the child keeps its copy
            self.process = subprocess.Popen(
                [*self._command(), "serve", "--port", str(self.port), *extra],
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthy, timeout=30, what=f"collector on port {self.port}")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"collector exited with {self.process.returncode}")
        return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def post(self, path: str, token: str, body: Any) -> Any:
        response = requests.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def get(self, path: str, token: str, **params: Any) -> Any:
        response = requests.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


@dataclass
class AgentProcess:
    """``portacare-agent`` with a config file written by the test."""

    config: Path
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        # the test distribution with the ``sequence`` check is found through its entry point
        path = os.pathsep.join(filter(None, [str(E2E_CHECKS), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": path}

    def start(self) -> None:
        with (self.config.parent / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "portacare-agent"), "run", "--config", str(self.config)],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, signum: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        self.process = None

    def run(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "portacare-agent"), *args, "--config", str(config or self.config)],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    wait_for(predicate, timeout=timeout, what=what)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
