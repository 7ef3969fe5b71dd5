"""The collector's own clockwork inside ``serve``: filing history, sweeps, deliveries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from .delivery import deliver_due
from .history import FILE_EVERY_SECONDS, file_recent
from .retention import prune
from .settings import Settings
from .sweep import run_sweep

__all__ = ["BackgroundJobs"]

log = logging.getLogger("portacare.collector.background")


@dataclass
class _Job:
    name: str
    every: float  # seconds
    run: Callable[[], object]
    due: float = 0.0  # time.monotonic() of its next run


class BackgroundJobs:
    """A thread running each job at its own interval.

    Filing recent results into the history runs in every ``serve``: ingest depends on
    it. Sweeps (with pruning) and outbox deliveries run there unless
    ``sweep_in_serve`` is off, when ``portacare-collector sweep`` from cron does them.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self._jobs = [_Job("filing history", FILE_EVERY_SECONDS, self._file_history)]
        if settings.sweep_in_serve:
            self._jobs += [
                _Job("sweep", settings.sweep_interval, self._sweep),
                _Job("delivery", settings.delivery_interval, self._deliver),
            ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="portacare-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _file_history(self) -> None:
        file_recent(self.factory, self.clock())

    def _sweep(self) -> None:
        run_sweep(self.factory, self.settings, self.clock())
        prune(self.factory, self.clock() - self.settings.retention)

    def _deliver(self) -> None:
        deliver_due(self.factory, self.settings, clock=self.clock)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for job in self._jobs:
                if time.monotonic() >= job.due:
                    job.due = time.monotonic() + job.every
                    self._guarded(job)
            next_due = min(job.due for job in self._jobs)
            self._stop.wait(max(0.0, next_due - time.monotonic()))

    @staticmethod
    def _guarded(job: _Job) -> None:
        try:
            job.run()
        except Exception:  # a database hiccup must not end the loop; the next round retries
            log.exception("%s failed", job.name)
