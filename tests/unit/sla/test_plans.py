"""Support plans: the standard plan is the policy; overrides come from plain dicts (TOML)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portacare.sla import (
    STANDARD_PLAN,
    EscalationStep,
    Priority,
    Role,
    SlaError,
    SupportPlan,
    Target,
    first_response_due,
    load_plans,
    parse_duration,
    parse_target,
)

from .moments import utc

PREMIUM = SupportPlan.from_dict(
    "premium",
    {
        "first_response": {"P1": "15m", "P2": "1h", "P3": "4h business", "P4": "1 business day"},
        "updates": {"P1": "30m", "P3": "4 business hours"},
        "escalation": {
            "P1": [["0m", "technical_support_manager"], ["30m", "cto"]],
            "P3": [{"after": "24h", "role": "Technical Support Manager"}],
        },
    },
)


@pytest.mark.parametrize(
    ("section", "priority", "target"),
    [
        pytest.param("first_response", Priority.P1, Target.clock_hours(1), id="first-p1"),
        pytest.param("first_response", Priority.P2, Target.clock_hours(2), id="first-p2"),
        pytest.param("first_response", Priority.P3, Target.business_days(1), id="first-p3"),
        pytest.param("first_response", Priority.P4, Target.business_days(2), id="first-p4"),
        pytest.param("updates", Priority.P1, Target.clock_hours(1), id="updates-p1"),
        pytest.param("updates", Priority.P2, Target.clock_hours(2), id="updates-p2"),
        pytest.param("updates", Priority.P3, Target.business_days(1), id="updates-p3"),
        pytest.param("updates", Priority.P4, Target.business_days(2), id="updates-p4"),
    ],
)
def test_standard_plan_is_the_policy(section: str, priority: Priority, target: Target) -> None:
    assert getattr(STANDARD_PLAN, section)[priority] == target
    assert STANDARD_PLAN.name == "standard"


@pytest.mark.parametrize(
    ("section", "priority", "target"),
    [
        pytest.param("first_response", Priority.P1, Target(timedelta(minutes=15)), id="first-p1"),
        pytest.param("first_response", Priority.P2, Target.clock_hours(1), id="first-p2"),
        pytest.param("first_response", Priority.P3, Target.business_hours(4), id="first-p3"),
        pytest.param("first_response", Priority.P4, Target.business_days(1), id="first-p4"),
        pytest.param("updates", Priority.P1, Target(timedelta(minutes=30)), id="updates-p1"),
        pytest.param("updates", Priority.P2, Target.clock_hours(2), id="updates-p2-from-base"),
        pytest.param("updates", Priority.P3, Target.business_hours(4), id="updates-p3"),
        pytest.param("updates", Priority.P4, Target.business_days(2), id="updates-p4-from-base"),
    ],
)
def test_premium_overrides_over_the_standard_plan(
    section: str, priority: Priority, target: Target
) -> None:
    assert getattr(PREMIUM, section)[priority] == target


def test_premium_ladders_replace_only_the_priorities_given() -> None:
    assert PREMIUM.ladders[Priority.P1] == (
        EscalationStep(timedelta(0), Role.TECHNICAL_SUPPORT_MANAGER),
        EscalationStep(timedelta(minutes=30), Role.CTO),
    )
    assert PREMIUM.ladders[Priority.P3] == (
        EscalationStep(timedelta(hours=24), Role.TECHNICAL_SUPPORT_MANAGER),
    )
    assert PREMIUM.ladders[Priority.P2] == STANDARD_PLAN.ladders[Priority.P2]
    assert PREMIUM.ladders[Priority.P4] == STANDARD_PLAN.ladders[Priority.P4]


def test_premium_shortens_due_times() -> None:
    friday_4pm = utc(2026, 11, 27, 16)
    assert first_response_due(Priority.P3, friday_4pm, PREMIUM) == utc(2026, 11, 30, 12)
    assert first_response_due(Priority.P1, friday_4pm, PREMIUM) == utc(2026, 11, 27, 16, 15)


def test_a_plan_can_build_on_another() -> None:
    platinum = SupportPlan.from_dict("platinum", {"first_response": {"p1": "5m"}}, base=PREMIUM)
    assert platinum.first_response[Priority.P1] == Target(timedelta(minutes=5))
    assert platinum.first_response[Priority.P3] == Target.business_hours(4)
    assert platinum.name == "platinum"


def test_empty_ladder_means_no_escalation() -> None:
    quiet = SupportPlan.from_dict("quiet", {"escalation": {"P4": []}})
    assert quiet.ladders[Priority.P4] == ()


def test_ladder_steps_are_kept_in_time_order() -> None:
    plan = SupportPlan.from_dict(
        "x",
        {"escalation": {"P2": [["2h", "cto"], ["1h", "technical_support_manager"]]}},
    )
    assert [step.role for step in plan.ladders[Priority.P2]] == [
        Role.TECHNICAL_SUPPORT_MANAGER,
        Role.CTO,
    ]


def test_plans_are_read_only() -> None:
    with pytest.raises(TypeError):
        STANDARD_PLAN.first_response[Priority.P1] = Target.clock_hours(9)  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        pytest.param({"first_reponse": {}}, "first_reponse", "unknown setting", id="typo-section"),
        pytest.param(
            {"first_response": "1h"}, "first_response", "keyed by", id="section-not-table"
        ),
        pytest.param(
            {"first_response": {"P5": "1h"}}, "first_response.P5", "unknown priority", id="p5"
        ),
        pytest.param(
            {"first_response": {"P1": 60}}, "first_response.P1", "expected a string", id="int"
        ),
        pytest.param(
            {"first_response": {"P1": "1 fortnight"}}, "first_response.P1", "cannot read", id="unit"
        ),
        pytest.param(
            {"first_response": {"P1": "0m"}}, "first_response.P1", "must be positive", id="zero"
        ),
        pytest.param(
            {"updates": {"P3": "24h business"}}, "updates.P3", "business days", id="24-bh"
        ),
        pytest.param({"updates": {"P3": "-1h"}}, "updates.P3", "cannot read", id="negative"),
        pytest.param({"escalation": {"P1": "cto"}}, "escalation.P1", "list of", id="ladder-str"),
        pytest.param({"escalation": {"P1": [["1h"]]}}, "escalation.P1[0]", "e.g. ", id="pair"),
        pytest.param(
            {"escalation": {"P1": [["1h", "ceo"]]}},
            "escalation.P1[0].role",
            "unknown role",
            id="role",
        ),
        pytest.param(
            {"escalation": {"P1": [["soon", "cto"]]}},
            "escalation.P1[0].after",
            "duration",
            id="after",
        ),
        pytest.param(
            {"escalation": {"P1": [["1 business day", "cto"]]}},
            "escalation.P1[0].after",
            "clock time",
            id="business-after",
        ),
        pytest.param(
            {"escalation": {"P1": [{"after": "1h", "who": "cto"}]}},
            "escalation.P1[0]",
            "after and role",
            id="table-keys",
        ),
        pytest.param(
            {"escalation": {"P1": [["1h", "cto"], ["2h", "CTO"]]}},
            "escalation.P1[1].role",
            "appears twice",
            id="duplicate-role",
        ),
    ],
)
def test_bad_plan_data_names_the_key(data: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(SlaError, match=message) as caught:
        SupportPlan.from_dict("bad", data)
    assert caught.value.key == key


def test_a_plan_must_cover_every_priority() -> None:
    with pytest.raises(SlaError, match="no entry for P4") as caught:
        SupportPlan(
            "partial",
            first_response={
                p: Target.clock_hours(1) for p in (Priority.P1, Priority.P2, Priority.P3)
            },
            updates=STANDARD_PLAN.updates,
            ladders=STANDARD_PLAN.ladders,
        )
    assert caught.value.key == "first_response"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        pytest.param("30m", Target(timedelta(minutes=30)), id="minutes"),
        pytest.param("2 hours", Target.clock_hours(2), id="hours-word"),
        pytest.param("1d", Target(timedelta(days=1)), id="clock-day"),
        pytest.param("4h business", Target.business_hours(4), id="business-suffix"),
        pytest.param("90 business minutes", Target(timedelta(minutes=90), True), id="business-min"),
        pytest.param("1 business day", Target.business_days(1), id="business-day"),
        pytest.param(" 2  Business Days ", Target.business_days(2), id="spacing-case"),
    ],
)
def test_parse_target(text: str, target: Target) -> None:
    assert parse_target(text) == target


def test_parse_duration() -> None:
    assert parse_duration("0m") == timedelta(0)
    assert parse_duration("96h") == timedelta(days=4)


def test_plans_are_hashable_and_compare_by_content() -> None:
    again = SupportPlan.from_dict("standard", {})
    assert again == STANDARD_PLAN
    assert hash(again) == hash(STANDARD_PLAN)
    assert len({STANDARD_PLAN, again, PREMIUM}) == 2


def test_load_plans_builds_named_plans_on_each_other() -> None:
    plans = load_plans(
        {
            "premium": {"first_response": {"P1": "30m"}},
            "platinum": {"base": "premium", "updates": {"P1": "15m"}},
        }
    )
    assert sorted(plans) == ["platinum", "premium", "standard"]
    assert plans["standard"] == STANDARD_PLAN
    assert plans["platinum"].first_response[Priority.P1] == Target(timedelta(minutes=30))
    assert plans["platinum"].updates[Priority.P1] == Target(timedelta(minutes=15))
    assert plans["premium"].updates[Priority.P1] == Target.clock_hours(1)


def test_load_plans_may_override_the_standard_plan() -> None:
    plans = load_plans({"standard": {"updates": {"P1": "30m"}}, "gold": {}})
    assert plans["standard"].updates[Priority.P1] == Target(timedelta(minutes=30))
    assert plans["gold"].updates[Priority.P1] == Target(timedelta(minutes=30))


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        pytest.param({"a": {"base": "zz"}}, "a.base", "unknown base plan", id="unknown-base"),
        pytest.param({"a": {"base": "a"}}, "a.base", "in a circle: a -> a", id="self"),
        pytest.param(
            {"a": {"base": "b"}, "b": {"base": "a"}}, "b.base", "a -> b -> a", id="circle"
        ),
        pytest.param({"standard": {"base": "a"}, "a": {}}, "standard.base", "policy", id="std"),
        pytest.param({"a": 3}, "a", "table of settings", id="not-a-table"),
        pytest.param(
            {"a": {"first_response": {"P1": "x"}}},
            "a.first_response.P1",
            "cannot read",
            id="nested",
        ),
        pytest.param({"a": {"foo": 1}}, "a.foo", "unknown setting", id="unknown-key"),
    ],
)
def test_load_plans_errors_name_plan_and_key(data: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(SlaError, match=message) as caught:
        load_plans(data)
    assert caught.value.key == key
    assert str(caught.value) == f"{key}: {caught.value.reason}"


def test_business_hours_of_a_day_or_more_are_refused() -> None:
    with pytest.raises(SlaError, match="business_days"):
        Target.business_hours(24)
