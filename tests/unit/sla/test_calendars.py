"""Business calendars: opening hours, days off, DST, and building one from configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from portacare.sla import DEFAULT_CALENDAR, BusinessCalendar, NaiveDatetimeError, SlaError

from .moments import KYIV, NEW_YORK, utc

KYIV_CAL = BusinessCalendar(timezone="Europe/Kyiv")
# A calendar whose working day contains New York's spring-forward (02:00 -> 03:00).
NIGHT_SHIFT = BusinessCalendar(
    timezone="America/New_York", working_days=frozenset(range(7)), opens=time(1), closes=time(9)
)


def test_default_calendar_is_weekdays_nine_to_five_utc_without_holidays() -> None:
    expected = BusinessCalendar(
        timezone="UTC", working_days=frozenset({0, 1, 2, 3, 4}), opens=time(9), closes=time(17)
    )
    assert expected == DEFAULT_CALENDAR
    assert DEFAULT_CALENDAR.holidays_country is None
    assert DEFAULT_CALENDAR.is_open(utc(2026, 12, 25, 10))  # Christmas: no holidays by default


@pytest.mark.parametrize(
    ("calendar", "moment", "is_open"),
    [
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 9), True, id="monday-at-opening"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 8, 59), False, id="monday-before-opening"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 16, 59), True, id="monday-before-closing"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 17), False, id="monday-at-closing"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 28, 12), False, id="saturday"),
        pytest.param(KYIV_CAL, utc(2026, 11, 30, 7, 30), True, id="kyiv-0930-local"),
        pytest.param(KYIV_CAL, utc(2026, 11, 30, 15, 30), False, id="kyiv-1730-local"),
        pytest.param(KYIV_CAL, utc(2026, 7, 1, 6, 30), True, id="kyiv-summer-0930-local"),
        pytest.param(
            BusinessCalendar(holidays_country="US"), utc(2026, 11, 26, 12), False, id="thanksgiving"
        ),
        pytest.param(
            BusinessCalendar(closed_dates=frozenset({date(2026, 12, 24)})),
            utc(2026, 12, 24, 12),
            False,
            id="closed-date",
        ),
        pytest.param(
            BusinessCalendar(holidays_country="DE", holidays_subdiv="BY"),
            utc(2026, 1, 6, 12),
            False,
            id="epiphany-in-bavaria",
        ),
        pytest.param(
            BusinessCalendar(holidays_country="DE", holidays_subdiv="BE"),
            utc(2026, 1, 6, 12),
            True,
            id="epiphany-not-in-berlin",
        ),
    ],
)
def test_is_open(calendar: BusinessCalendar, moment: datetime, is_open: bool) -> None:
    assert calendar.is_open(moment) is is_open


@pytest.mark.parametrize(
    ("calendar", "moment", "expected"),
    [
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 10), utc(2026, 11, 30, 10), id="open-now"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 30, 6), utc(2026, 11, 30, 9), id="early"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 27, 17), utc(2026, 11, 30, 9), id="fri-close"),
        pytest.param(DEFAULT_CALENDAR, utc(2026, 11, 28, 12), utc(2026, 11, 30, 9), id="saturday"),
        pytest.param(
            BusinessCalendar(timezone="America/New_York", holidays_country="US"),
            datetime(2026, 11, 25, 18, tzinfo=NEW_YORK),
            datetime(2026, 11, 27, 9, tzinfo=NEW_YORK),
            id="eve-of-thanksgiving",
        ),
        pytest.param(
            KYIV_CAL,
            datetime(2026, 10, 24, 12, tzinfo=KYIV),
            datetime(2026, 10, 26, 9, tzinfo=KYIV),
            id="kyiv-weekend-of-dst-end",
        ),
    ],
)
def test_next_opening(calendar: BusinessCalendar, moment: datetime, expected: datetime) -> None:
    result = calendar.next_opening(moment)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("calendar", "start", "amount", "expected"),
    [
        pytest.param(
            DEFAULT_CALENDAR,
            utc(2026, 11, 27, 16),
            timedelta(hours=8),
            utc(2026, 11, 30, 16),
            id="friday-16h-plus-8h",
        ),
        pytest.param(
            DEFAULT_CALENDAR,
            utc(2026, 11, 30, 10),
            timedelta(0),
            utc(2026, 11, 30, 10),
            id="zero-while-open",
        ),
        pytest.param(
            DEFAULT_CALENDAR,
            utc(2026, 11, 28, 10),
            timedelta(0),
            utc(2026, 11, 30, 9),
            id="zero-while-closed-is-next-opening",
        ),
        pytest.param(
            DEFAULT_CALENDAR,
            utc(2026, 11, 30, 9),
            timedelta(hours=40),
            utc(2026, 12, 4, 17),
            id="a-working-week",
        ),
        pytest.param(
            DEFAULT_CALENDAR,
            utc(2026, 11, 30, 12),
            timedelta(minutes=90),
            utc(2026, 11, 30, 13, 30),
            id="minutes",
        ),
        pytest.param(
            # Sunday 8 March 2026, 01:00-09:00 local, is 7 real hours long (02:00 -> 03:00).
            NIGHT_SHIFT,
            datetime(2026, 3, 8, 1, tzinfo=NEW_YORK),
            timedelta(hours=8),
            datetime(2026, 3, 9, 2, tzinfo=NEW_YORK),
            id="window-containing-spring-forward-is-7h",
        ),
        pytest.param(
            # Sunday 1 November 2026, 01:00-09:00 local, is 9 real hours long (02:00 -> 01:00).
            NIGHT_SHIFT,
            datetime(2026, 11, 1, 1, tzinfo=NEW_YORK),
            timedelta(hours=9),
            datetime(2026, 11, 1, 9, tzinfo=NEW_YORK),
            id="window-containing-fall-back-is-9h",
        ),
    ],
)
def test_add_business_time(
    calendar: BusinessCalendar, start: datetime, amount: timedelta, expected: datetime
) -> None:
    result = calendar.add_business_time(start, amount)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: DEFAULT_CALENDAR.is_open(datetime(2026, 11, 30, 10)), id="is-open"),
        pytest.param(
            lambda: DEFAULT_CALENDAR.next_opening(datetime(2026, 11, 30)), id="next-opening"
        ),
        pytest.param(
            lambda: DEFAULT_CALENDAR.add_business_time(datetime(2026, 11, 30), timedelta(hours=1)),
            id="add",
        ),
    ],
)
def test_naive_moments_are_refused(call: Any) -> None:
    with pytest.raises(NaiveDatetimeError):
        call()


def test_negative_business_time_is_refused() -> None:
    with pytest.raises(SlaError, match="cannot be negative"):
        DEFAULT_CALENDAR.add_business_time(utc(2026, 11, 30), timedelta(hours=-1))


def test_a_calendar_without_any_open_day_fails_instead_of_looping() -> None:
    everything_closed = BusinessCalendar(
        working_days=frozenset({0}),
        closed_dates=frozenset(date(2026, 11, 30) + timedelta(weeks=w) for w in range(600)),
    )
    with pytest.raises(SlaError, match="no working day"):
        everything_closed.add_business_time(utc(2026, 11, 30), timedelta(hours=1))


def test_from_dict_reads_every_key() -> None:
    calendar = BusinessCalendar.from_dict(
        {
            "timezone": "America/New_York",
            "working_days": ["mon", "tue", "Wednesday", "thu"],
            "hours": "08:30-16:30",
            "holidays_country": "us",
            "holidays_subdiv": "ny",
            "closed_dates": ["2026-12-24", date(2026, 12, 31)],
        }
    )
    assert calendar == BusinessCalendar(
        timezone="America/New_York",
        working_days=frozenset({0, 1, 2, 3}),
        opens=time(8, 30),
        closes=time(16, 30),
        holidays_country="US",
        holidays_subdiv="NY",
        closed_dates=frozenset({date(2026, 12, 24), date(2026, 12, 31)}),
    )
    assert calendar.working_day_length == timedelta(hours=8)


def test_from_empty_dict_is_the_default() -> None:
    assert BusinessCalendar.from_dict({}) == DEFAULT_CALENDAR


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone", id="timezone"),
        pytest.param({"timezone": 3}, "timezone", "non-empty string", id="timezone-type"),
        pytest.param({"tz": "UTC"}, "tz", "unknown setting", id="unknown-key"),
        pytest.param({"working_days": "mon-fri"}, "working_days", "expected a list", id="days-str"),
        pytest.param(
            {"working_days": ["mon", "funday"]}, "working_days[1]", "unknown weekday", id="day"
        ),
        pytest.param({"working_days": []}, "working_days", "at least one", id="no-days"),
        pytest.param({"hours": "9-5"}, "hours", "HH:MM-HH:MM", id="hours-format"),
        pytest.param({"hours": "17:00-09:00"}, "hours", "must be before", id="hours-overnight"),
        pytest.param({"hours": "09:00-25:00"}, "hours", "hour must be", id="hours-range"),
        pytest.param({"holidays_country": "XX"}, "holidays_country", "XX", id="country"),
        pytest.param(
            {"holidays_country": "US", "holidays_subdiv": "ZZ"},
            "holidays_subdiv",
            "ZZ",
            id="subdiv",
        ),
        pytest.param(
            {"holidays_subdiv": "NY"}, "holidays_subdiv", "needs holidays_country", id="lone-subdiv"
        ),
        pytest.param({"closed_dates": ["24.12.2026"]}, "closed_dates[0]", "ISO date", id="date"),
        pytest.param(
            {"closed_dates": "2026-12-24"}, "closed_dates", "expected a list", id="dates-str"
        ),
    ],
)
def test_from_dict_errors_name_the_key(data: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(SlaError, match=message) as caught:
        BusinessCalendar.from_dict(data)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_bad_weekday_numbers_are_refused() -> None:
    with pytest.raises(SlaError, match="weekday numbers run 0"):
        BusinessCalendar(working_days=frozenset({5, 7}))


@pytest.mark.parametrize(
    ("country", "subdiv", "canonical"),
    [
        pytest.param("us", "ny", ("US", "NY"), id="lower-case"),
        pytest.param("US", "New York", ("US", "New York"), id="alias"),
        pytest.param("fr", "zone a", ("FR", "Zone A"), id="mixed-case-subdivision"),
    ],
)
def test_holiday_regions_are_matched_without_case(
    country: str, subdiv: str, canonical: tuple[str, str]
) -> None:
    calendar = BusinessCalendar.from_dict({"holidays_country": country, "holidays_subdiv": subdiv})
    assert (calendar.holidays_country, calendar.holidays_subdiv) == canonical
