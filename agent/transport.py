"""Pushing batches to the collector over HTTP, and the backoff between failed tries.

The push goes through the standard library (``urllib.request``), not ``requests``:
on a customer's server the agent's memory is part of the product, and ``requests``
with ``urllib3``, ``idna`` and ``charset_normalizer`` cost about 5 MB of resident
memory for one POST every few seconds. What ``requests`` did for the agent, it
still does: proxies from ``http_proxy``/``https_proxy``/``no_proxy``, TLS verified
against ``ca_file`` or else certifi's bundle, one timeout for connecting and for
each read, every failure one of the agent's own errors.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portacare import __version__

from .errors import Rejected, TransportError

__all__ = ["Backoff", "Pusher", "PushOutcome"]

_MAX_ANSWER = 1 << 20  # the collector answers in a few bytes; a long error page is cut


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
    """POSTs batches to ``{collector}/api/v1/results`` with the agent's bearer token.

    A redirect is not followed: it would carry the token wherever it points, so it is
    reported (with its ``Location``) for the operator to fix the collector URL.
    """

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
        self.ca_file = ca_file
        self.check_intervals = check_intervals or {}
        self._opener: urllib.request.OpenerDirector | None = None

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
            data = json.dumps(body, allow_nan=False).encode("utf-8")
        except ValueError as exc:  # NaN or infinity in details: not valid JSON
            # never sendable, as a 422 would say: the agent sets it aside instead of retrying
            # it forever in front of every later batch
            raise Rejected(422, f"the batch cannot be written as JSON: {exc}") from exc
        request = urllib.request.Request(
            self.url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"portacare-agent/{__version__}",
            },
        )
        opener = self._opener or self._build_opener()
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status, answer = response.status, response.read(_MAX_ANSWER)
                location = response.headers.get("Location")
        except urllib.error.URLError as exc:  # refused, unresolvable, TLS not verified
            raise TransportError(f"cannot reach {self.url}: {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, bad answers
            raise TransportError(f"cannot reach {self.url}: {_describe(exc)}") from exc
        if status == 202:
            try:
                outcome = json.loads(answer)
                return PushOutcome(int(outcome.get("accepted", 0)), bool(outcome.get("duplicate")))
            except (ValueError, TypeError, AttributeError) as exc:
                raise TransportError(f"collector answered 202 with no JSON object: {exc}") from exc
        message = answer.decode("utf-8", errors="replace")[:500]
        if 300 <= status < 400:
            message = f"redirect to {location} (not followed: set collector to that URL)"
        if 400 <= status < 500 and status not in (408, 429):
            raise Rejected(status, message)
        raise TransportError(f"collector answered HTTP {status}: {message}")

    def _build_opener(self) -> urllib.request.OpenerDirector:
        """Proxies from the environment, TLS as configured; every status comes back as is.

        Built at the first push, and kept, so the CA bundle is read once. No redirect
        and no error-raising handlers: the caller judges each status itself.
        """
        try:
            tls = self._tls_context()
        except OSError as exc:  # ssl.SSLError included: a bundle that is not PEM
            raise TransportError(f"cannot use the CA bundle {self.ca_file}: {exc}") from exc
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),  # http_proxy, https_proxy, no_proxy
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(context=tls),
        ):
            opener.add_handler(handler)
        self._opener = opener
        return opener

    def _tls_context(self) -> ssl.SSLContext | None:
        """The collector's certificate must chain to ``ca_file``, else to certifi's CAs."""
        if not self.url.startswith("https:"):
            return None
        if self.ca_file is not None and self.ca_file.is_dir():
            return ssl.create_default_context(capath=str(self.ca_file))
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        import certifi

        return ssl.create_default_context(cafile=certifi.where())

    def close(self) -> None:
        self._opener = None


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
