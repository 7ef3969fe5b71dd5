"""Checks shared by every function that takes a moment: refuse naive datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import NaiveDatetimeError

__all__ = ["aware_utc"]


def aware_utc(name: str, value: datetime) -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes.

    A naive datetime would silently be read in the host's local zone; for SLA due
    times that is the difference between a met and a missed commitment, so it is
    refused instead of guessed.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=UTC)), got naive {value!r}"
        )
    return value.astimezone(UTC)
