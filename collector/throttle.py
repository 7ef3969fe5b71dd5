"""Slowing down repeated authentication failures from one address.

After ``limit`` failures within a minute an address gets 429 with
``Retry-After`` until its oldest failure leaves the window: guessing tokens
becomes hopeless while a misconfigured agent still recovers by itself. This is
rate limiting, not correctness, so per-process memory is enough.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["FailureThrottle"]


class FailureThrottle:
    """Counts authentication failures per client address over a sliding window."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float:
        """Seconds this address must wait; 0 when it may try."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[0] + self.window - self.clock())

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self.clock())
            if len(self._failures) > 10_000:  # forget the quietest addresses first
                for quiet in list(self._failures)[:1000]:
                    del self._failures[quiet]

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures
