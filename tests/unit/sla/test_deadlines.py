"""First-response and update due times: every cell of the policy's commitments table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portacare.sla import (
    BusinessCalendar,
    NaiveDatetimeError,
    Priority,
    SlaError,
    Target,
    due_time,
    first_response_due,
    next_update_due,
)

from .moments import KYIV, NEW_YORK, utc

US_NEW_YORK = BusinessCalendar(timezone="America/New_York", holidays_country="US")
KYIV_CAL = BusinessCalendar(timezone="Europe/Kyiv")
TUESDAY_10 = utc(2026, 12, 1, 10)  # inside working hours of the default calendar

# Each row: the commitment, the moment its clock starts, the calendar, the due time.
COMMITMENTS = [
    # -- first response ("1st Email"), default calendar Mon-Fri 09:00-17:00 UTC
    pytest.param(
        first_response_due, Priority.P1, TUESDAY_10, None, utc(2026, 12, 1, 11), id="first-p1-1h"
    ),
    pytest.param(
        first_response_due, Priority.P2, TUESDAY_10, None, utc(2026, 12, 1, 12), id="first-p2-2h"
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        TUESDAY_10,
        None,
        utc(2026, 12, 2, 10),
        id="first-p3-1-business-day",
    ),
    pytest.param(
        first_response_due,
        Priority.P4,
        TUESDAY_10,
        None,
        utc(2026, 12, 3, 10),
        id="first-p4-2-business-days",
    ),
    # -- customer updates, from the last contact
    pytest.param(
        next_update_due, Priority.P1, TUESDAY_10, None, utc(2026, 12, 1, 11), id="upd-p1-hourly"
    ),
    pytest.param(
        next_update_due, Priority.P2, TUESDAY_10, None, utc(2026, 12, 1, 12), id="upd-p2-two-hours"
    ),
    pytest.param(
        next_update_due,
        Priority.P3,
        TUESDAY_10,
        None,
        utc(2026, 12, 2, 10),
        id="upd-p3-once-per-business-day",
    ),
    pytest.param(
        next_update_due,
        Priority.P4,
        TUESDAY_10,
        None,
        utc(2026, 12, 3, 10),
        id="upd-p4-every-other-business-day",
    ),
    # -- P1/P2 are clock time: 24/7, weekends and nights included
    pytest.param(
        first_response_due,
        Priority.P1,
        utc(2026, 11, 28, 23, 30),
        None,
        utc(2026, 11, 29, 0, 30),
        id="first-p1-saturday-night-clock",
    ),
    pytest.param(
        next_update_due,
        Priority.P2,
        utc(2026, 11, 27, 16),
        None,
        utc(2026, 11, 27, 18),
        id="upd-p2-friday-after-hours-clock",
    ),
    pytest.param(
        first_response_due,
        Priority.P2,
        datetime(2026, 11, 26, 10, tzinfo=NEW_YORK),
        US_NEW_YORK,
        utc(2026, 11, 26, 17),
        id="first-p2-on-thanksgiving-clock",
    ),
    # -- P3/P4 business time: the policy's own example and the awkward moments
    pytest.param(
        first_response_due,
        Priority.P3,
        utc(2026, 11, 27, 16),
        None,
        utc(2026, 11, 30, 16),
        id="p3-friday-16h-due-monday-16h",
    ),
    pytest.param(
        first_response_due,
        Priority.P4,
        utc(2026, 11, 27, 16),
        None,
        utc(2026, 12, 1, 16),
        id="p4-friday-16h-due-tuesday-16h",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        utc(2026, 11, 28, 11),
        None,
        utc(2026, 11, 30, 17),
        id="p3-saturday-starts-monday-09h",
    ),
    pytest.param(
        first_response_due,
        Priority.P4,
        utc(2026, 11, 28, 11),
        None,
        utc(2026, 12, 1, 17),
        id="p4-saturday-starts-monday-09h",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        utc(2026, 12, 1, 7),
        None,
        utc(2026, 12, 1, 17),
        id="p3-before-opening-same-day",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        utc(2026, 12, 1, 17),
        None,
        utc(2026, 12, 2, 17),
        id="p3-at-closing-starts-next-morning",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        utc(2026, 12, 1, 9),
        None,
        utc(2026, 12, 1, 17),
        id="p3-at-opening-due-same-closing",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        datetime(2026, 11, 25, 18, tzinfo=NEW_YORK),
        US_NEW_YORK,
        datetime(2026, 11, 27, 17, tzinfo=NEW_YORK),
        id="p3-evening-before-thanksgiving",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        datetime(2026, 7, 2, 16, tzinfo=NEW_YORK),
        US_NEW_YORK,
        datetime(2026, 7, 6, 16, tzinfo=NEW_YORK),
        id="p3-before-observed-independence-day",
    ),
    pytest.param(
        next_update_due,
        Priority.P4,
        datetime(2026, 12, 24, 12, tzinfo=NEW_YORK),
        US_NEW_YORK,
        datetime(2026, 12, 29, 12, tzinfo=NEW_YORK),
        id="upd-p4-over-christmas",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        datetime(2026, 10, 23, 16, tzinfo=KYIV),
        KYIV_CAL,
        datetime(2026, 10, 26, 16, tzinfo=KYIV),
        id="p3-kyiv-over-october-dst-end",
    ),
    pytest.param(
        first_response_due,
        Priority.P3,
        datetime(2026, 3, 27, 16, tzinfo=KYIV),
        KYIV_CAL,
        datetime(2026, 3, 30, 16, tzinfo=KYIV),
        id="p3-kyiv-over-march-dst-start",
    ),
    pytest.param(
        first_response_due,
        Priority.P4,
        datetime(2026, 3, 6, 16, tzinfo=NEW_YORK),
        US_NEW_YORK,
        datetime(2026, 3, 10, 16, tzinfo=NEW_YORK),
        id="p4-new-york-over-march-dst-start",
    ),
]


@pytest.mark.parametrize(("due", "priority", "start", "calendar", "expected"), COMMITMENTS)
def test_commitments(
    due: object,
    priority: Priority,
    start: datetime,
    calendar: BusinessCalendar | None,
    expected: datetime,
) -> None:
    kwargs = {} if calendar is None else {"calendar": calendar}
    result = due(priority, start, **kwargs)  # type: ignore[operator]
    assert result == expected
    assert result.tzinfo is UTC


def test_dst_result_is_local_wall_clock_not_utc_arithmetic() -> None:
    # 16:00 EEST (UTC+3) on Friday is 13:00 UTC; 16:00 EET (UTC+2) on Monday is 14:00 UTC.
    result = first_response_due(
        Priority.P3, datetime(2026, 10, 23, 16, tzinfo=KYIV), calendar=KYIV_CAL
    )
    assert result == utc(2026, 10, 26, 14)


@pytest.mark.parametrize(
    ("target", "start", "expected"),
    [
        pytest.param(Target.clock_hours(1), TUESDAY_10, utc(2026, 12, 1, 11), id="clock-1h"),
        pytest.param(Target(timedelta(days=1)), TUESDAY_10, utc(2026, 12, 2, 10), id="clock-1d"),
        pytest.param(
            Target.business_hours(4), utc(2026, 12, 1, 15), utc(2026, 12, 2, 11), id="bh-4h"
        ),
        pytest.param(
            Target(timedelta(days=1, hours=2), business=True),
            utc(2026, 12, 1, 15),
            utc(2026, 12, 2, 17),
            id="business-day-and-2h",
        ),
        pytest.param(Target.business_days(5), TUESDAY_10, utc(2026, 12, 8, 10), id="bd-5-a-week"),
    ],
)
def test_due_time(target: Target, start: datetime, expected: datetime) -> None:
    assert due_time(start, target) == expected


def test_business_day_is_the_calendars_working_day_length() -> None:
    short_days = BusinessCalendar(
        opens=datetime(2000, 1, 1, 10).time(), closes=datetime(2000, 1, 1, 14).time()
    )
    assert due_time(utc(2026, 12, 1, 13), Target.business_days(1), short_days) == utc(
        2026, 12, 2, 13
    )


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: first_response_due(Priority.P1, datetime(2026, 12, 1, 10)), id="first"
        ),
        pytest.param(lambda: next_update_due(Priority.P3, datetime(2026, 12, 1, 10)), id="update"),
        pytest.param(lambda: due_time(datetime(2026, 12, 1), Target.clock_hours(1)), id="due-time"),
    ],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    with pytest.raises(NaiveDatetimeError, match="must be timezone-aware"):
        call()  # type: ignore[operator]


def test_naive_error_is_an_sla_error_and_a_value_error() -> None:
    assert issubclass(NaiveDatetimeError, SlaError)
    assert issubclass(SlaError, ValueError)
