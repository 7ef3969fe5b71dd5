"""The collector's own clockwork inside ``serve``: sweeps and outbox deliveries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from .delivery import deliver_due
from .retention import prune
from .settings import Settings
from .sweep import run_sweep

__all__ = ["BackgroundJobs"]

log = logging.getLogger("portacare.collector.background")


class BackgroundJobs:
    """A thread that sweeps every ``sweep_interval`` and delivers every ``delivery_interval``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="portacare-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        next_sweep = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.settings.sweep_interval
                self._guarded("sweep", lambda: run_sweep(self.factory, self.settings, self.clock()))
                self._guarded(
                    "prune", lambda: prune(self.factory, self.clock() - self.settings.retention)
                )
            self._guarded(
                "delivery", lambda: deliver_due(self.factory, self.settings, clock=self.clock)
            )
            self._stop.wait(self.settings.delivery_interval)

    @staticmethod
    def _guarded(name: str, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception:  # a database hiccup must not end the loop; the next round retries
            log.exception("%s failed", name)
