"""Running a check safely: an exception or a hang becomes UNKNOWN, never a dead agent.

Python cannot kill a thread, so a check that hangs past its timeout is reported
``UNKNOWN`` and left to finish in the background; the runner refuses to start
the same check again while that run is still alive, so a wedged check costs one
thread, not one per interval. Commands a check starts carry their own timeouts
(see :mod:`portacare.checks.commands`) so most hangs end for real.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from .base import Check
from .errors import CheckFailed
from .result import CheckResult, Status, utc_now

__all__ = ["CheckRunner", "run_check", "unknown", "scrub"]

DEFAULT_TIMEOUT_S = 60.0

# "password=x" and "token: x" are hidden; "password authentication failed" is left readable
_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)(\S+)")


def scrub(text: str) -> str:
    """Hide values that look like credentials before a reason leaves the host."""
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}********", text)


def unknown(reason: str, **details: object) -> CheckResult:
    """An UNKNOWN result saying why the check could not decide."""
    return CheckResult(Status.UNKNOWN, scrub(reason), details={"error": scrub(reason), **details})


@dataclass
class CheckRunner:
    """Runs checks each in its own thread with a deadline; remembers runs still alive."""

    _in_flight: dict[str, tuple[Future[CheckResult], float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, check: Check, timeout: float | None = None) -> CheckResult:
        """Run ``check`` once and return its result, stamped with time and duration."""
        timeout = timeout or check.options.timeout or DEFAULT_TIMEOUT_S
        name = check.instance_name
        observed_at = utc_now()
        started = time.monotonic()
        with self._lock:
            previous = self._in_flight.get(name)
            if previous is not None and not previous[0].done():
                hung_for = time.monotonic() - previous[1]
                return unknown(
                    f"previous run still hanging after {hung_for:.0f}s; not started again"
                ).with_timing(observed_at, 0)
            future: Future[CheckResult] = Future()
            self._in_flight[name] = (future, started)
        thread = threading.Thread(
            target=_run_into, args=(check, future), name=f"check-{name}", daemon=True
        )
        thread.start()
        thread.join(timeout)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        if not future.done():
            return unknown(f"timed out after {timeout:g}s").with_timing(observed_at, elapsed_ms)
        return future.result().with_timing(observed_at, elapsed_ms)


def run_check(check: Check, timeout: float | None = None) -> CheckResult:
    """Run one check once with a fresh runner (for one-shot commands and tests)."""
    return CheckRunner().run(check, timeout)


def _run_into(check: Check, future: Future[CheckResult]) -> None:
    try:
        result = check.run()
        if not isinstance(result, CheckResult):
            raise TypeError(f"run() returned {type(result).__name__}, not CheckResult")
    except CheckFailed as exc:
        result = unknown(str(exc))
    except BaseException as exc:  # noqa: BLE001 - the whole point: nothing escapes a check
        result = unknown(f"check crashed: {type(exc).__name__}: {exc}")
    future.set_result(result)
