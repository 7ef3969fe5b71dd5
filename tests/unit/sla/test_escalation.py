"""Escalation ladders: every step of the policy's table, just before and just after its time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portacare.sla import (
    STANDARD_PLAN,
    NaiveDatetimeError,
    Priority,
    Role,
    ScheduledEscalation,
    TicketFacts,
    assess,
    escalation_plan,
    escalations_due,
)

from .moments import KYIV, utc

TSM = Role.TECHNICAL_SUPPORT_MANAGER
CRM = Role.CUSTOMER_RELATIONS_MANAGER
CTO = Role.CTO
LOGGED = utc(2026, 11, 26, 12)  # a Thursday: the ladder is clock time, calendars play no part
SECOND = timedelta(seconds=1)

# The policy's escalation table, cell by cell: (priority, elapsed, role).
LADDER_CELLS = [
    pytest.param(Priority.P1, timedelta(0), TSM, id="p1-immediately-tsm"),
    pytest.param(Priority.P1, timedelta(hours=1), CRM, id="p1-1h-crm"),
    pytest.param(Priority.P1, timedelta(hours=4), CTO, id="p1-4h-cto"),
    pytest.param(Priority.P2, timedelta(hours=1), TSM, id="p2-1h-tsm"),
    pytest.param(Priority.P2, timedelta(hours=4), CRM, id="p2-4h-crm"),
    pytest.param(Priority.P2, timedelta(hours=8), CTO, id="p2-8h-cto"),
    pytest.param(Priority.P3, timedelta(hours=48), TSM, id="p3-48h-tsm"),
    pytest.param(Priority.P3, timedelta(hours=96), CRM, id="p3-96h-crm"),
    pytest.param(Priority.P4, timedelta(hours=96), TSM, id="p4-96h-tsm"),
]
# "Immediately" has no "just before": the request did not exist yet.
TIMED_CELLS = [cell for cell in LADDER_CELLS if cell.id != "p1-immediately-tsm"]


def _due_roles(priority: Priority, now: datetime, **facts: object) -> set[Role]:
    assessment = assess(TicketFacts(priority, LOGGED, **facts), now)  # type: ignore[arg-type]
    return {step.role for step in assessment.escalations_due}


@pytest.mark.parametrize(("priority", "elapsed", "role"), LADDER_CELLS)
def test_step_is_in_the_plan(priority: Priority, elapsed: timedelta, role: Role) -> None:
    assert ScheduledEscalation(role, LOGGED + elapsed) in escalation_plan(priority, LOGGED)


@pytest.mark.parametrize(("priority", "elapsed", "role"), TIMED_CELLS)
def test_step_not_due_just_before_its_time(
    priority: Priority, elapsed: timedelta, role: Role
) -> None:
    assert role not in _due_roles(priority, LOGGED + elapsed - SECOND)


@pytest.mark.parametrize(("priority", "elapsed", "role"), LADDER_CELLS)
def test_step_due_at_and_just_after_its_time(
    priority: Priority, elapsed: timedelta, role: Role
) -> None:
    assert role in _due_roles(priority, LOGGED + elapsed)
    assert role in _due_roles(priority, LOGGED + elapsed + SECOND)


@pytest.mark.parametrize(("priority", "elapsed", "role"), LADDER_CELLS)
def test_step_not_repeated_once_notified(
    priority: Priority, elapsed: timedelta, role: Role
) -> None:
    later = LOGGED + elapsed + timedelta(hours=1)
    assert role not in _due_roles(priority, later, notified_roles=frozenset({role}))


@pytest.mark.parametrize(("priority", "elapsed", "role"), LADDER_CELLS)
def test_resolved_before_the_step_never_triggers_it(
    priority: Priority, elapsed: timedelta, role: Role
) -> None:
    resolved = LOGGED + elapsed - SECOND if elapsed else LOGGED
    for now in (LOGGED + elapsed, LOGGED + elapsed + timedelta(days=30)):
        assert role not in _due_roles(priority, now, resolved_at=resolved)


@pytest.mark.parametrize(
    ("priority", "roles"),
    [
        pytest.param(Priority.P1, [TSM, CRM, CTO], id="p1"),
        pytest.param(Priority.P2, [TSM, CRM, CTO], id="p2"),
        pytest.param(Priority.P3, [TSM, CRM], id="p3"),
        pytest.param(Priority.P4, [TSM], id="p4"),
    ],
)
def test_ladders_hold_exactly_the_policy_rows(priority: Priority, roles: list[Role]) -> None:
    plan = escalation_plan(priority, LOGGED)
    assert [step.role for step in plan] == roles
    assert [step.due_at for step in plan] == sorted(step.due_at for step in plan)
    assert len(STANDARD_PLAN.ladders[priority]) == len(roles)


def test_escalations_due_filters_notified_and_resolved() -> None:
    schedule = escalation_plan(Priority.P1, LOGGED)
    now = LOGGED + timedelta(hours=2)
    assert escalations_due(schedule, now) == schedule[:2]
    assert escalations_due(schedule, now, notified_roles={TSM}) == schedule[1:2]
    assert escalations_due(schedule, now, resolved=True) == ()


def test_escalation_results_are_utc_and_naive_is_refused() -> None:
    plan = escalation_plan(Priority.P2, datetime(2026, 11, 26, 14, tzinfo=KYIV))
    assert plan[0].due_at == LOGGED + timedelta(hours=1)
    assert plan[0].due_at.utcoffset() == timedelta(0)
    with pytest.raises(NaiveDatetimeError):
        escalation_plan(Priority.P1, datetime(2026, 11, 26, 12))
    with pytest.raises(NaiveDatetimeError):
        escalations_due(plan, datetime(2026, 11, 26, 12))
