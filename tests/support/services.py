"""Real services for tests: find their binaries, pick free ports, wait until they answer.

A missing service fails the run under CI (``CI=true``): `make test` installs every
Debian package the tests need, so absence there is a broken install, not a reason
to skip. Outside CI a missing tool skips with the package to install.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_SBIN = ("/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin")


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere: a service the suite needs is not there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI requires it; `make test` installs it)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, package: str | None = None) -> str:
    """The absolute path of executable ``name``, or fail/skip naming its Debian package."""
    path = shutil.which(name) or next(
        (str(Path(d) / name) for d in _SBIN if (Path(d) / name).exists()), None
    )
    if path is None:
        unavailable(f"{name} is not installed (Debian package {package or name})")
    assert path is not None
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "service") -> None:
    """Poll ``predicate`` until it is true; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - the service is still starting
            last_error = exc
        time.sleep(0.1)
    pytest.fail(f"{what} not ready after {timeout:g}s (last error: {last_error})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
