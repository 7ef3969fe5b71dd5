"""assess(): one ticket's facts at one moment -> what is due, overdue, and who to notify."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from portacare.sla import (
    Assessment,
    BusinessCalendar,
    NaiveDatetimeError,
    Priority,
    Role,
    ScheduledEscalation,
    SlaError,
    SupportPlan,
    TicketFacts,
    assess,
)

from .moments import NEW_YORK, utc

TSM = Role.TECHNICAL_SUPPORT_MANAGER
CRM = Role.CUSTOMER_RELATIONS_MANAGER
CTO = Role.CTO
LOGGED = utc(2026, 11, 26, 12)  # Thursday, 12:00 UTC
H = timedelta(hours=1)


def at(hours: float) -> datetime:
    """LOGGED plus some clock hours."""
    return LOGGED + timedelta(hours=hours)


def due(assessment: Assessment) -> list[tuple[Role, datetime]]:
    return [(step.role, step.due_at) for step in assessment.escalations_due]


# Each row: the ticket's facts, the moment, and the steps due then (role, scheduled time).
SCENARIOS = [
    pytest.param(
        TicketFacts(Priority.P1, LOGGED), LOGGED, [(TSM, LOGGED)], id="p1-tsm-immediately"
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, notified_roles=frozenset({TSM})),
        at(0.5),
        [],
        id="p1-tsm-already-notified",
    ),
    pytest.param(
        # Raised 3 -> 1 after two hours: the P1 ladder from the original logging time.
        # TSM (0h) and CRM (+1h, already passed) are due at once; CTO waits for +4h.
        TicketFacts(Priority.P1, LOGGED),
        at(2),
        [(TSM, LOGGED), (CRM, at(1))],
        id="raised-p3-to-p1-after-2h",
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, notified_roles=frozenset({TSM, CRM})),
        at(4),
        [(CTO, at(4))],
        id="raised-p3-to-p1-cto-at-4h",
    ),
    pytest.param(
        # Raised 4 -> 2 at +10h: all three P2 steps have passed and fire at once.
        TicketFacts(Priority.P2, LOGGED),
        at(10),
        [(TSM, at(1)), (CRM, at(4)), (CTO, at(8))],
        id="raised-p4-to-p2-after-10h",
    ),
    pytest.param(
        # Lowered 1 -> 3 after 2h, TSM and CRM notified: the P3 ladder has nobody new.
        TicketFacts(Priority.P3, LOGGED, notified_roles=frozenset({TSM, CRM})),
        at(100),
        [],
        id="lowered-p1-to-p3-nobody-again",
    ),
    pytest.param(
        # Lowered 2 -> 4 after 3h with TSM notified: P4's only step is TSM -> nothing more.
        TicketFacts(Priority.P4, LOGGED, notified_roles=frozenset({TSM})),
        at(200),
        [],
        id="lowered-p2-to-p4",
    ),
    pytest.param(
        # Lowered 1 -> 3 at 30 min with TSM notified: CRM now waits for P3's +96h.
        TicketFacts(Priority.P3, LOGGED, notified_roles=frozenset({TSM})),
        at(95),
        [],
        id="lowered-p1-to-p3-crm-waits",
    ),
    pytest.param(
        TicketFacts(Priority.P3, LOGGED, notified_roles=frozenset({TSM})),
        at(96),
        [(CRM, at(96))],
        id="lowered-p1-to-p3-crm-at-96h",
    ),
    pytest.param(
        # Resolved at +30 min, before CRM's +1h: CRM never fires, even long after.
        TicketFacts(Priority.P1, LOGGED, resolved_at=at(0.5), notified_roles=frozenset({TSM})),
        at(10),
        [],
        id="resolved-before-crm-step",
    ),
    pytest.param(
        # Resolved at +2h, but the sweep looks at +1.5h: not resolved yet then.
        TicketFacts(Priority.P1, LOGGED, resolved_at=at(2), notified_roles=frozenset({TSM})),
        at(1.5),
        [(CRM, at(1))],
        id="resolution-after-now-is-not-seen",
    ),
    pytest.param(
        # Reopened at +24h after TSM was notified: the ladder restarts from the reopen;
        # TSM is not notified again, CRM at reopen+1h.
        TicketFacts(
            Priority.P1,
            LOGGED,
            ladder_started_at=at(24),
            resolved_at=at(0.5),
            notified_roles=frozenset({TSM}),
        ),
        at(24),
        [],
        id="reopen-tsm-not-again",
    ),
    pytest.param(
        TicketFacts(
            Priority.P1,
            LOGGED,
            ladder_started_at=at(24),
            resolved_at=at(0.5),
            notified_roles=frozenset({TSM}),
        ),
        at(25),
        [(CRM, at(25))],
        id="reopen-crm-from-reopen-time",
    ),
    pytest.param(
        TicketFacts(Priority.P2, LOGGED, ladder_started_at=at(24), resolved_at=at(0.5)),
        at(24.9),
        [],
        id="reopen-p2-nothing-before-1h",
    ),
    pytest.param(
        TicketFacts(Priority.P2, LOGGED, ladder_started_at=at(24), resolved_at=at(30)),
        at(40),
        [],
        id="reopened-then-resolved-again",
    ),
]


@pytest.mark.parametrize(("facts", "now", "expected"), SCENARIOS)
def test_escalations_due(
    facts: TicketFacts, now: datetime, expected: list[tuple[Role, datetime]]
) -> None:
    assert due(assess(facts, now)) == expected


def test_priority_change_reschedules_the_whole_ladder_from_logging() -> None:
    result = assess(TicketFacts(Priority.P1, LOGGED), at(2))
    assert result.escalation_plan == (
        ScheduledEscalation(TSM, LOGGED),
        ScheduledEscalation(CRM, at(1)),
        ScheduledEscalation(CTO, at(4)),
    )
    assert result.next_escalation == ScheduledEscalation(CTO, at(4))


# Each row: facts, now, (first_response_overdue, next_update_due, update_overdue).
COMMITMENTS = [
    pytest.param(TicketFacts(Priority.P1, LOGGED), at(0.99), (False, None, False), id="p1-in-time"),
    pytest.param(TicketFacts(Priority.P1, LOGGED), at(1), (False, None, False), id="p1-at-due"),
    pytest.param(TicketFacts(Priority.P1, LOGGED), at(1.01), (True, None, False), id="p1-overdue"),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, first_response_at=at(0.5)),
        at(1.2),
        (False, at(1.5), False),
        id="p1-responded-hourly-update-due",
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, first_response_at=at(0.5)),
        at(1.6),
        (False, at(1.5), True),
        id="p1-update-overdue",
    ),
    pytest.param(
        TicketFacts(Priority.P2, LOGGED, first_response_at=at(1), last_update_at=at(2.5)),
        at(4),
        (False, at(4.5), False),
        id="p2-update-from-last-update",
    ),
    pytest.param(
        TicketFacts(Priority.P2, LOGGED, first_response_at=at(1), last_update_at=at(2.5)),
        at(2),
        (False, at(3), False),
        id="p2-update-after-now-not-seen",
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, first_response_at=at(3)),
        at(3.5),
        (False, at(4), False),
        id="p1-late-response-no-longer-overdue",
    ),
    pytest.param(
        TicketFacts(Priority.P3, LOGGED, first_response_at=at(1)),
        at(1),
        (False, utc(2026, 11, 27, 13), False),
        id="p3-update-once-per-business-day",
    ),
    pytest.param(
        TicketFacts(Priority.P4, LOGGED, first_response_at=at(1)),
        at(1),
        (False, utc(2026, 11, 30, 13), False),
        id="p4-update-every-other-business-day",
    ),
    pytest.param(
        TicketFacts(Priority.P3, LOGGED),
        utc(2026, 11, 27, 12, 1),
        (True, None, False),
        id="p3-first-response-overdue-next-day",
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, first_response_at=at(0.5), resolved_at=at(0.8)),
        at(5),
        (False, None, False),
        id="resolved-owes-nothing",
    ),
    pytest.param(
        TicketFacts(Priority.P1, LOGGED, resolved_at=at(0.8)),
        at(5),
        (False, None, False),
        id="resolved-without-response",
    ),
    pytest.param(
        # Reopened at +24h: updates are owed on the cadence from the reopen.
        TicketFacts(
            Priority.P1,
            LOGGED,
            ladder_started_at=at(24),
            first_response_at=at(0.5),
            resolved_at=at(0.8),
        ),
        at(24.5),
        (False, at(25), False),
        id="reopen-update-from-reopen",
    ),
]


@pytest.mark.parametrize(("facts", "now", "expected"), COMMITMENTS)
def test_commitments(
    facts: TicketFacts, now: datetime, expected: tuple[bool, datetime | None, bool]
) -> None:
    result = assess(facts, now)
    assert (
        result.first_response_overdue,
        result.next_update_due,
        result.update_overdue,
    ) == expected


def test_first_response_due_follows_the_current_priority() -> None:
    # Raised 3 -> 1 after two hours without a response: P1's hour has long passed.
    result = assess(TicketFacts(Priority.P1, LOGGED), at(2))
    assert result.first_response_due == at(1)
    assert result.first_response_overdue


def test_customer_calendar_and_plan_are_used() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", holidays_country="US")
    premium = SupportPlan.from_dict("premium", {"first_response": {"P3": "4h business"}})
    # Wednesday 25 Nov 2026 18:00 New York; Thursday is Thanksgiving.
    opened = datetime(2026, 11, 25, 18, tzinfo=NEW_YORK)
    result = assess(TicketFacts(Priority.P3, opened), opened, premium, calendar)
    assert result.first_response_due == datetime(2026, 11, 27, 13, tzinfo=NEW_YORK)
    assert result.escalation_plan[0].due_at == opened + 48 * H  # the ladder ignores calendars


def test_resolved_flag() -> None:
    assert assess(TicketFacts(Priority.P1, LOGGED, resolved_at=at(1)), at(2)).resolved
    assert not assess(TicketFacts(Priority.P1, LOGGED, resolved_at=at(1)), at(0.5)).resolved


@pytest.mark.parametrize(
    "field",
    ["opened_at", "ladder_started_at", "first_response_at", "last_update_at", "resolved_at"],
)
def test_naive_facts_are_refused(field: str) -> None:
    values: dict[str, Any] = {"opened_at": LOGGED, field: datetime(2026, 11, 26, 12)}
    with pytest.raises(NaiveDatetimeError, match=field):
        TicketFacts(Priority.P1, **values)


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="now"):
        assess(TicketFacts(Priority.P1, LOGGED), datetime(2026, 11, 26, 12))


def test_facts_normalise_to_utc_and_enums() -> None:
    facts = TicketFacts(
        3,  # type: ignore[arg-type]
        datetime(2026, 11, 26, 7, tzinfo=NEW_YORK),
        notified_roles=frozenset({"cto"}),  # type: ignore[arg-type]
    )
    assert facts.priority is Priority.P3
    assert facts.opened_at == LOGGED and facts.opened_at.utcoffset() == timedelta(0)
    assert facts.notified_roles == frozenset({CTO})
    with pytest.raises(SlaError, match="unknown priority"):
        TicketFacts(7, LOGGED)  # type: ignore[arg-type]


def test_resolution_stamped_before_opening_still_counts_when_not_reopened() -> None:
    # Clocks of agents and collector may disagree by a little: a resolved ticket
    # must never start escalating because of it.
    facts = TicketFacts(Priority.P1, LOGGED, resolved_at=LOGGED - timedelta(seconds=5))
    result = assess(facts, at(5))
    assert result.resolved
    assert result.escalations_due == ()


def test_notified_roles_may_be_wire_names_and_bad_ones_are_refused() -> None:
    facts = TicketFacts(Priority.P1, LOGGED, notified_roles=frozenset({"cto"}))  # type: ignore[arg-type]
    assert facts.notified_roles == frozenset({CTO})
    with pytest.raises(SlaError, match="unknown role") as caught:
        TicketFacts(Priority.P1, LOGGED, notified_roles=frozenset({"ceo"}))  # type: ignore[arg-type]
    assert caught.value.key == "notified_roles"
