"""Pushing batches to the collector over HTTP, and the backoff between failed tries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from portacare import __version__

from .errors import Rejected, TransportError

__all__ = ["Backoff", "Pusher", "PushOutcome"]


@dataclass
class Backoff:
    """Exponential backoff with full jitter (as AWS's architecture blog recommends).

    Full jitter spreads a fleet of agents that lost the collector at the same
    moment, so they do not all come back in the same second.
    """

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        """Seconds to wait before the next try; grows with each recorded failure."""
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 30))
        self.failures += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class PushOutcome:
    accepted: int
    duplicate: bool


class Pusher:
    """POSTs batches to ``{collector}/api/v1/results`` with the agent's bearer token."""

    def __init__(
        self,
        collector: str,
        host: str,
        token_file: Path,
        interval_s: float,
        timeout: float = 15.0,
        ca_file: Path | None = None,
        check_intervals: dict[str, float] | None = None,
    ) -> None:
        self.url = f"{collector}/api/v1/results"
        self.host = host
        self.token_file = token_file
        self.interval_s = interval_s
        self.timeout = timeout
        self.verify: bool | str = str(ca_file) if ca_file else True
        self.check_intervals = check_intervals or {}
        self._session = requests.Session()

    def push(
        self,
        batch_id: str,
        results: list[dict[str, Any]],
        dropped: dict[str, dict[str, Any]] | None = None,
    ) -> PushOutcome:
        """Send one batch; TransportError to retry later, Rejected when refused."""
        agent: dict[str, Any] = {
            "version": __version__,
            "interval_s": self.interval_s,
            "check_intervals": self.check_intervals,
        }
        if dropped:
            agent["dropped"] = dropped
        body: dict[str, Any] = {
            "host": self.host,
            "batch_id": batch_id,
            "agent": agent,
            "results": results,
        }
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TransportError(f"cannot read token file {self.token_file}: {exc}") from exc
        try:
            response = self._session.post(
                self.url,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.RequestException as exc:
            raise TransportError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code == 202:
            answer = response.json()
            return PushOutcome(int(answer.get("accepted", 0)), bool(answer.get("duplicate")))
        message = response.text[:500]
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise Rejected(response.status_code, message)
        raise TransportError(f"collector answered HTTP {response.status_code}: {message}")

    def close(self) -> None:
        self._session.close()
