"""The Check API: what a check is, what it is given, and the options it accepts.

A check is one class with a typed options model and one ``run()``::

    class UptimeOptions(CheckOptions):
        warning_days: Annotated[int, Meta(gt=0, description="warn when up longer")] = 365

    class UptimeCheck(Check[UptimeOptions]):
        options_model = UptimeOptions
        description = "days since boot"

        def run(self) -> CheckResult:
            days = (self.context.now() - boot_time()).days
            status = Status.WARNING if days > self.options.warning_days else Status.OK
            return CheckResult(status, f"up {days} days", {"uptime_days": days})

Options are msgspec structs (see :mod:`portacare.checks.options` for why, and
for the types it adds: sizes, paths, IP addresses). Checks never catch their own
unexpected errors: the runner turns any exception or timeout into ``UNKNOWN`` with
the reason, so every check fails the same way.
Everything a check reads from the host that a test would want to replace (paths,
commands, the clock, stored state) comes through its options or its context.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from .options import Meta, Options, parse_options
from .result import CheckResult, utc_now

__all__ = ["Check", "CheckOptions", "CheckContext", "CheckState"]


class CheckOptions(Options, kw_only=True):  # kw_only again for type checkers
    """Options every check accepts; each check extends this with its own fields."""

    enabled: Annotated[bool, Meta(description="run this check")] = True
    interval: (
        Annotated[
            float, Meta(gt=0, description="seconds between runs (default: the agent's interval)")
        ]
        | None
    ) = None
    timeout: (
        Annotated[
            float,
            Meta(
                gt=0,
                description="seconds before a run is abandoned as UNKNOWN "
                "(default: the interval, at most 60)",
            ),
        ]
        | None
    ) = None


OptionsT = TypeVar("OptionsT", bound=CheckOptions)


class CheckState:
    """A small JSON document a check keeps between runs (baselines, history).

    Written atomically (temporary file and rename) so a crash mid-write leaves
    the previous version, never a torn file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """The stored document, or an empty one when none exists or it is unreadable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        """Replace the stored document."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class CheckContext:
    """What the agent hands every check: who it runs for, the clock, its state.

    ``instance`` is the name the check runs under in the agent's configuration;
    it differs from the registered check name when one check is configured
    several times (``[checks.orders_db] type = "db_replication"``).
    """

    hostname: str = field(default_factory=socket.getfqdn)
    state_dir: Path | None = None
    now: Callable[[], datetime] = utc_now
    instance: str = ""

    def state(self, fallback_name: str) -> CheckState:
        """This instance's persistent state (in a temporary folder when no state_dir is set)."""
        base = self.state_dir or Path(tempfile.gettempdir()) / "portacare-state"
        return CheckState(base / "checks" / f"{self.instance or fallback_name}.json")


class Check(ABC, Generic[OptionsT]):
    """Base of every check: holds validated options and the context, runs once per call."""

    #: The options model; subclasses replace it with their own.
    options_model: ClassVar[type[CheckOptions]] = CheckOptions
    #: One line for ``portacare-agent list-checks``.
    description: ClassVar[str] = ""
    #: The registered name, set by discovery from the entry point.
    name: ClassVar[str] = ""
    #: Seconds between runs when the configuration names none; None: the agent's interval.
    #: Checks of slow-moving things (errata, backups) run less often by default.
    default_interval: ClassVar[float | None] = None

    def __init__(self, options: OptionsT, context: CheckContext | None = None) -> None:
        self.options = options
        self.context = context or CheckContext()

    @classmethod
    def from_config(
        cls, raw: dict[str, Any] | None = None, context: CheckContext | None = None
    ) -> Check[OptionsT]:
        """Build the check from a raw options table; OptionsError naming each wrong key."""
        options = parse_options(cls.options_model, raw or {})
        return cls(options, context)  # type: ignore[arg-type]

    @property
    def state(self) -> CheckState:
        """This check's persistent state."""
        return self.context.state(self.name or type(self).__name__)

    @property
    def instance_name(self) -> str:
        """The name this check reports under: its configured instance, else its type."""
        return self.context.instance or self.name or type(self).__name__

    @abstractmethod
    def run(self) -> CheckResult:
        """Look at the host once and say what was found."""
