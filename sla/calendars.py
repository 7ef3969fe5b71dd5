"""Business calendars: when a customer's business time runs.

P3/P4 targets are counted in business time: only while the customer is open,
in the customer's own time zone, skipping weekends, public holidays and any
extra closed dates. Working hours are local wall-clock hours, so a calendar
stays 09:00-17:00 local across daylight-saving changes.

>>> from datetime import datetime, timedelta, UTC
>>> friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
>>> DEFAULT_CALENDAR.add_business_time(friday_4pm, timedelta(hours=8)).isoformat()
'2026-11-30T16:00:00+00:00'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from ._moments import aware_utc
from .errors import SlaError

__all__ = ["DEFAULT_CALENDAR", "BusinessCalendar"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")
_KEYS = (
    "timezone",
    "working_days",
    "hours",
    "holidays_country",
    "holidays_subdiv",
    "closed_dates",
)
# Any year will do to check that a country/subdivision exists in ``holidays``.
_PROBE_YEAR = 2026
# A calendar closed for this many days in a row has no business time to give:
# fail loudly instead of looping for ever.
_MAX_CLOSED_DAYS = 3660


@lru_cache(maxsize=64)
def _canonical_region(country: str, subdiv: str | None) -> tuple[str, str | None]:
    """``holidays``' own spelling of a country and subdivision ("us", "ny" -> "US", "NY").

    Configuration is written by people; ``holidays`` matches names exactly, and
    some subdivisions are not upper case ("Zone A"), so match without case.
    """
    country = country.strip().upper()
    if subdiv is None:
        return country, None
    subdiv = subdiv.strip()
    known = holidays.list_supported_countries(include_aliases=True).get(country, [])
    matches = [name for name in known if name.casefold() == subdiv.casefold()]
    return country, matches[0] if matches else subdiv


@lru_cache(maxsize=256)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """The public holidays of one country/subdivision in one year (cached, immutable)."""
    try:
        return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))
    except NotImplementedError as exc:
        key = "holidays_subdiv" if subdiv and "subdivision" in str(exc) else "holidays_country"
        raise SlaError(str(exc), key=key) from exc


@dataclass(frozen=True)
class BusinessCalendar:
    """A customer's business hours: time zone, working days and hours, days off.

    ``working_days`` holds weekday numbers (Monday = 0). ``holidays_country`` and
    ``holidays_subdiv`` select public holidays from the ``holidays`` package
    (e.g. ``"US"`` / ``"NY"``); ``closed_dates`` adds the customer's own days off.
    A working day runs from ``opens`` to ``closes`` local time; both must fall on
    the same day (no overnight shifts).
    """

    timezone: str = "UTC"
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise SlaError(f"unknown time zone {self.timezone!r}", key="timezone") from exc
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        if not self.working_days:
            raise SlaError("a calendar needs at least one working day", key="working_days")
        bad = sorted(d for d in self.working_days if not isinstance(d, int) or not 0 <= d <= 6)
        if bad:
            raise SlaError(f"weekday numbers run 0 (Mon) to 6 (Sun), got {bad}", key="working_days")
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise SlaError("opening hours are local wall-clock times, without tzinfo", key="hours")
        if not self.opens < self.closes:
            raise SlaError(
                f"opens ({self.opens:%H:%M}) must be before closes ({self.closes:%H:%M})",
                key="hours",
            )
        if self.holidays_subdiv is not None and self.holidays_country is None:
            raise SlaError("a subdivision needs holidays_country", key="holidays_subdiv")
        if self.holidays_country is not None:
            country, subdiv = _canonical_region(self.holidays_country, self.holidays_subdiv)
            object.__setattr__(self, "holidays_country", country)
            object.__setattr__(self, "holidays_subdiv", subdiv)
            _holiday_dates(country, subdiv, _PROBE_YEAR)  # refuses unknown ones now, not later

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def working_day_length(self) -> timedelta:
        """The nominal length of one working day: what "1 business day" of a target means."""
        day = date(2000, 1, 3)
        return datetime.combine(day, self.closes) - datetime.combine(day, self.opens)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a working day: right weekday, not a day off."""
        if day.weekday() not in self.working_days or day in self.closed_dates:
            return False
        if self.holidays_country is None:
            return True
        return day not in _holiday_dates(self.holidays_country, self.holidays_subdiv, day.year)

    def is_open(self, moment: datetime) -> bool:
        """Whether business time runs at ``moment`` (an aware datetime)."""
        local = aware_utc("moment", moment).astimezone(self.zone)
        opens, closes = self._window(local.date())
        return self.is_working_day(local.date()) and opens <= local < closes

    def next_opening(self, moment: datetime) -> datetime:
        """When business time starts running from ``moment`` on, in UTC.

        That is ``moment`` itself while the calendar is open, otherwise the start of
        the next working day's hours: a ticket opened at night starts its business
        clock then.
        """
        start = aware_utc("moment", moment)
        for opens, _closes in self._windows_from(start):
            return max(start, opens)
        raise AssertionError("unreachable: _windows_from never ends empty")  # pragma: no cover

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment, in UTC, when ``amount`` of business time has run from ``start``.

        Business time runs only inside working hours; a start outside them waits
        for the next opening. The time inside one window is counted as it
        elapses, so a window that contains a DST switch is an hour shorter/longer.
        """
        cursor = aware_utc("start", start)
        if not isinstance(amount, timedelta):
            raise TypeError(f"amount must be a timedelta, got {type(amount).__name__}")
        if amount < timedelta(0):
            raise SlaError(f"business time cannot be negative, got {amount}", key="amount")
        remaining = amount
        for opens, closes in self._windows_from(cursor):
            segment_start = max(cursor, opens)
            available = closes - segment_start
            if remaining <= available:
                return segment_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _windows_from never ends")  # pragma: no cover

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """One local day's working hours as UTC instants (DST resolved by zoneinfo)."""
        zone = self.zone
        opens = datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC)
        return opens, closes

    def _windows_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) that end after ``moment``, in order, for ever."""
        day = moment.astimezone(self.zone).date()
        closed_run = 0
        while True:
            if self.is_working_day(day):
                opens, closes = self._window(day)
                if closes > moment:
                    closed_run = 0
                    yield opens, closes
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_DAYS:
                    raise SlaError(
                        f"no working day in the {_MAX_CLOSED_DAYS} days after {moment:%Y-%m-%d}",
                        key="closed_dates",
                    )
            day += timedelta(days=1)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from plain configuration data (a TOML table).

        Keys, all optional: ``timezone`` ("Europe/Kyiv"), ``working_days``
        (["mon", ..., "fri"]), ``hours`` ("09:00-17:00"), ``holidays_country``
        ("US"), ``holidays_subdiv`` ("NY"), ``closed_dates`` (["2026-12-24"]).
        Unknown keys and bad values raise ``SlaError`` naming the key.
        """
        if not isinstance(data, Mapping):
            raise SlaError(f"a calendar is a table of settings, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise SlaError(f"unknown setting (expected: {', '.join(_KEYS)})", key=unknown[0])
        kwargs: dict[str, Any] = {}
        if "timezone" in data:
            kwargs["timezone"] = _string(data, "timezone")
        if "working_days" in data:
            kwargs["working_days"] = _weekdays(data["working_days"])
        if "hours" in data:
            kwargs["opens"], kwargs["closes"] = _hours(data["hours"])
        for key in ("holidays_country", "holidays_subdiv"):
            if data.get(key) is not None:
                kwargs[key] = _string(data, key)
        if "closed_dates" in data:
            kwargs["closed_dates"] = _dates(data["closed_dates"])
        return cls(**kwargs)


DEFAULT_CALENDAR = BusinessCalendar()
"""The calendar of a customer without one: Monday-Friday 09:00-17:00 UTC, no holidays."""


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise SlaError(f"expected a non-empty string, got {value!r}", key=key)
    return value.strip()


def _weekdays(value: Any) -> frozenset[int]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise SlaError(f'expected a list such as ["mon", "tue"], got {value!r}', key="working_days")
    days = set()
    for index, item in enumerate(value):
        name = item.strip().lower() if isinstance(item, str) else None
        if name in WEEKDAYS:
            days.add(WEEKDAYS.index(name))
        elif name in _FULL_WEEKDAYS:
            days.add(_FULL_WEEKDAYS.index(name))
        else:
            raise SlaError(
                f"unknown weekday {item!r} (expected one of {', '.join(WEEKDAYS)})",
                key=f"working_days[{index}]",
            )
    return frozenset(days)


def _hours(value: Any) -> tuple[time, time]:
    match = _HOURS.match(value) if isinstance(value, str) else None
    if match is None:
        raise SlaError(f'expected "HH:MM-HH:MM" such as "09:00-17:00", got {value!r}', key="hours")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    try:
        return time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise SlaError(f"{value!r}: {exc}", key="hours") from exc


def _dates(value: Any) -> frozenset[date]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise SlaError(f'expected a list such as ["2026-12-24"], got {value!r}', key="closed_dates")
    days = set()
    for index, item in enumerate(value):
        # TOML has a native date type; accept it as well as ISO strings.
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError) as exc:
            raise SlaError(
                f"expected an ISO date such as 2026-12-24, got {item!r}",
                key=f"closed_dates[{index}]",
            ) from exc
    return frozenset(days)
