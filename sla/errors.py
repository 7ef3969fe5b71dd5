"""The errors :mod:`portacare.sla` raises.

One hierarchy, so a caller can catch everything this package refuses with one
``except SlaError``::

    ValueError
    └── SlaError            bad calendar or plan data (``key`` names the bad entry)
        └── NaiveDatetimeError   a datetime without a time zone was passed in

``SlaError`` is a ``ValueError`` because every case is a bad value handed in by
the caller, never a fault of the environment.
"""

from __future__ import annotations

__all__ = ["NaiveDatetimeError", "SlaError"]


class SlaError(ValueError):
    """Bad calendar, plan or argument data; ``key`` names the offending entry.

    ``key`` is a dotted path into the data given to ``from_dict`` (for example
    ``"first_response.P3"`` or ``"escalation.P1[2].role"``) so the collector can
    point an operator at the exact line of its configuration; ``reason`` is the
    message without the key, for re-keying under an enclosing table.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        self.reason = message
        super().__init__(f"{key}: {message}" if key else message)


class NaiveDatetimeError(SlaError):
    """A datetime without a time zone: SLA arithmetic needs to know *where* it is."""
