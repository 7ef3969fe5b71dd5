"""The agent at work: runs checks on their schedules, spools results, pushes batches.

Two loops share the spool: the scheduler starts each check when it is due (a
pool of workers, each run bounded by its timeout) and spools the result; the
pusher sends what the spool holds, backing off while the collector is away, and
sends an empty batch as a heartbeat when there is nothing to say.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from portacare.checks import Check, CheckContext, CheckResult, CheckRunner

from .config import AgentConfig, CheckInstance
from .errors import Rejected, TransportError
from .memory import release_free_memory
from .spool import Spool
from .transport import Backoff, Pusher

__all__ = ["Agent", "FlushOutcome"]

log = logging.getLogger("portacare.agent")

# Statuses that mean the batch itself is bad: retrying it would block the spool forever.
_UNSENDABLE = {413, 422}


@dataclass(frozen=True)
class FlushOutcome:
    """What one flush achieved: results delivered, and whether the spool is now empty."""

    delivered: int
    drained: bool
    error: str | None = None


class Agent:
    """Runs the configured checks and delivers their results."""

    def __init__(self, config: AgentConfig, spool: Spool, pusher: Pusher) -> None:
        self.config = config
        self.spool = spool
        self.pusher = pusher
        self.runner = CheckRunner()
        self.backoff = Backoff(cap=config.agent.retry_max_delay)
        self._wake_pusher = threading.Event()
        self._last_push = 0.0
        self.checks = {i.name: self._build(i) for i in config.enabled_checks()}

    def _build(self, instance: CheckInstance) -> Check:
        context = CheckContext(
            hostname=self.config.agent.host,
            state_dir=self.config.agent.state_dir,
            instance=instance.name,
        )
        return instance.check_type(instance.options, context)

    def run_check(self, instance: CheckInstance) -> CheckResult:
        """Run one check and spool its result; a spool failure is logged, never raised."""
        result = self.runner.run(self.checks[instance.name], self.config.timeout_of(instance))
        try:
            self.spool.add(instance.name, result)
        except Exception:  # disk full or unwritable state_dir: say so loudly, keep going
            log.exception("cannot spool the result of %s", instance.name)
            raise
        self._wake_pusher.set()
        return result

    def run_all_once(self) -> dict[str, CheckResult]:
        """Run every enabled check once, at the same time, and spool the results."""
        instances = self.config.enabled_checks()
        with ThreadPoolExecutor(max_workers=self.config.agent.workers) as pool:
            futures = {i.name: pool.submit(self.run_check, i) for i in instances}
        return {name: future.result() for name, future in futures.items()}

    def flush(self, max_batches: int | None = None) -> FlushOutcome:
        """Push spooled batches until the spool is empty or a push fails."""
        delivered = 0
        sent = 0
        while max_batches is None or sent < max_batches:
            batch = self.spool.next_batch(self.config.agent.batch_size)
            if batch is None:
                return FlushOutcome(delivered, True)
            try:
                outcome = self.pusher.push(batch.batch_id, batch.results, batch.dropped)
            except Rejected as exc:
                if exc.status in _UNSENDABLE:
                    log.error("batch %s set aside: %s", batch.batch_id, exc)
                    self.spool.set_aside(batch.batch_id, str(exc))
                    continue
                return self._failed(delivered, exc)
            except TransportError as exc:
                return self._failed(delivered, exc)
            self.spool.acknowledge(batch.batch_id)
            self._last_push = time.monotonic()
            self.backoff.reset()
            delivered += len(batch.results)
            sent += 1
            if len(batch.results) >= self.config.agent.batch_size:
                time.sleep(1.0 / self.config.agent.replay_rate)  # catching up: a bounded rate
            log.info(
                "delivered %d results (batch %s%s)",
                len(batch.results),
                batch.batch_id,
                ", already stored" if outcome.duplicate else "",
            )
        return FlushOutcome(delivered, self.spool.depth() == 0)

    def heartbeat(self) -> bool:
        """Tell the collector the agent is alive when it has nothing else to send."""
        try:
            self.pusher.push(uuid.uuid4().hex, [])
        except TransportError as exc:
            self._failed(0, exc)
            return False
        self._last_push = time.monotonic()
        return True

    def _failed(self, delivered: int, exc: Exception) -> FlushOutcome:
        log.warning("push failed: %s (%d results waiting)", exc, self.spool.depth())
        self.spool.record_error(str(exc))
        return FlushOutcome(delivered, False, str(exc))

    # -- the long-running agent ------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Schedule checks and push until ``stop`` is set."""
        pusher = threading.Thread(target=self._push_loop, args=(stop,), name="pusher", daemon=True)
        pusher.start()
        agent = self.config.agent
        jitter = agent.startup_jitter
        queue: list[tuple[float, str]] = []
        instances = {i.name: i for i in self.config.enabled_checks()}
        start = time.monotonic()
        for name, instance in instances.items():
            spread = min(self.config.interval_of(instance), 15.0) if jitter is None else jitter
            heapq.heappush(queue, (start + random.uniform(0, spread), name))
        log.info("agent for %s running %d checks", agent.host, len(instances))
        with ThreadPoolExecutor(max_workers=agent.workers, thread_name_prefix="check") as pool:
            while not stop.is_set():
                if not queue:
                    stop.wait(1.0)
                    continue
                due, name = queue[0]
                delay = due - time.monotonic()
                if delay > 0:
                    stop.wait(min(delay, 1.0))
                    continue
                heapq.heappop(queue)
                instance = instances[name]
                pool.submit(self._run_logged, instance)
                interval = self.config.interval_of(instance)
                following = due + interval
                if following < time.monotonic():  # fell behind: do not burst to catch up
                    following = time.monotonic() + interval
                heapq.heappush(queue, (following, name))
            pool.shutdown(wait=False, cancel_futures=True)
        self._wake_pusher.set()
        pusher.join(timeout=self.config.agent.request_timeout + 1)

    def _run_logged(self, instance: CheckInstance) -> None:
        try:
            result = self.run_check(instance)
        except Exception:  # already logged by run_check; the agent goes on
            return
        finally:
            release_free_memory()  # what the run freed leaves the agent until the next one
        log.debug("%s: %s %s", instance.name, result.status.name, result.summary)

    def _push_loop(self, stop: threading.Event) -> None:
        agent = self.config.agent
        next_try = time.monotonic()
        while True:
            if time.monotonic() >= next_try:
                outcome = self.flush()
                idle = time.monotonic() - self._last_push
                if outcome.error is not None or (idle >= agent.interval and not self.heartbeat()):
                    next_try = time.monotonic() + self.backoff.next_delay()
                else:
                    self.backoff.reset()
                    next_try = time.monotonic() + agent.push_interval
            if stop.is_set():
                return
            wait = min(max(next_try - time.monotonic(), 0.05), 1.0)
            if self._wake_pusher.wait(timeout=wait):
                self._wake_pusher.clear()
                if self.backoff.failures == 0:
                    # new results: send soon, gathering what finishes together into one batch
                    next_try = min(next_try, time.monotonic() + 0.5)
