"""Shared moments and time zones for the SLA tables (imported by the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC moment: utc(2026, 11, 27, 16) is Friday 27 November 2026, 16:00 UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
