"""What a check tells: a Nagios status and an immutable result record.

Statuses carry Nagios's numbers so that any plugin's exit code is a status and
``portacare-agent check NAME`` can exit with one::

    >>> Status.from_name("critical")
    <Status.CRITICAL: 2>
    >>> Status.worst([Status.OK, Status.UNKNOWN, Status.WARNING])
    <Status.WARNING: 1>
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from types import MappingProxyType
from typing import Any

__all__ = ["Status", "CheckResult", "utc_now", "format_time", "parse_time"]


class Status(IntEnum):
    """A check's verdict, numbered as Nagios plugins exit."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Rank for "worst of": OK < UNKNOWN < WARNING < CRITICAL.

        UNKNOWN ranks below WARNING because a known problem is more urgent than a
        blind spot, yet above OK because nobody should read it as healthy.
        """
        return _SEVERITY[self]

    @classmethod
    def from_name(cls, name: str) -> Status:
        """Parse a status name case-insensitively; ValueError names the bad value."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown status {name!r}; expected one of {', '.join(s.name for s in cls)}"
            ) from None

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        """The most severe of ``statuses`` (OK for none)."""
        return max(statuses, key=lambda s: s.severity, default=cls.OK)


_SEVERITY = {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}
#: each status by its number (``BY_NUMBER[2] is Status.CRITICAL``): a tuple index where
#: ``Status(2)`` is a call through ``EnumMeta.__call__``, which the collector's ingest made
#: three times per result (a few per cent of its CPU per stored batch)
STATUS_BY_NUMBER: tuple[Status, ...] = tuple(sorted(Status))
#: each status number's severity rank, as :attr:`Status.severity` gives it
SEVERITY_BY_NUMBER: tuple[int, ...] = tuple(_SEVERITY[s] for s in STATUS_BY_NUMBER)


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as the wire contract writes times."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times on the wire must be timezone-aware")
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time; a time without an offset is refused, not guessed."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One observation of one check on one host.

    ``metrics`` holds numbers keyed by a label such as ``"/var used_pct"``;
    ``details`` holds JSON-serialisable facts for a person reading the ticket.
    Both are frozen into read-only mappings so a result cannot change after it
    was produced (it may already sit in the spool).
    """

    status: Status
    summary: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    observed_at: datetime = field(default_factory=utc_now)
    duration_ms: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status(self.status))
        if self.observed_at.tzinfo is None:
            raise ValueError("observed_at must be timezone-aware")
        for name, value in self.metrics.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"metric {name!r} is not a number: {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"metric {name!r} is not finite: {value!r}")
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def with_timing(self, observed_at: datetime, duration_ms: int) -> CheckResult:
        """A copy stamped with when it was observed and how long the check took."""
        return CheckResult(
            self.status, self.summary, self.metrics, self.details, observed_at, duration_ms
        )

    def to_wire(self, check: str) -> dict[str, Any]:
        """The result as one element of the wire contract's ``results`` list."""
        wire: dict[str, Any] = {
            "check": check,
            "status": self.status.name,
            "summary": self.summary,
            "observed_at": format_time(self.observed_at),
            "metrics": dict(self.metrics),
            "details": _plain(self.details),
        }
        if self.duration_ms is not None:
            wire["duration_ms"] = self.duration_ms
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from its wire form (the check name is not part of it)."""
        return cls(
            status=Status.from_name(wire["status"]),
            summary=wire["summary"],
            metrics=wire.get("metrics") or {},
            details=wire.get("details") or {},
            observed_at=parse_time(wire["observed_at"]),
            duration_ms=wire.get("duration_ms"),
        )


def _plain(value: Any) -> Any:
    """Turn read-only mappings back into plain JSON-serialisable containers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
