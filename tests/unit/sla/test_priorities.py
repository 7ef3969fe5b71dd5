"""Priorities and roles against the policy's "Priorities" table."""

from __future__ import annotations

import pytest

from portacare.sla import Priority, Role, SlaError


@pytest.mark.parametrize(
    ("priority", "rt_code", "meaning_starts"),
    [
        pytest.param(Priority.P1, 80, "The customer's network is down", id="p1"),
        pytest.param(Priority.P2, 60, "The customer's network is degraded", id="p2"),
        pytest.param(Priority.P3, 40, "The customer's network operation is impaired", id="p3"),
        pytest.param(Priority.P4, 20, "Configuration or planning assistance", id="p4"),
    ],
)
def test_priority_table(priority: Priority, rt_code: int, meaning_starts: str) -> None:
    assert priority.rt_code == rt_code
    assert priority.meaning.startswith(meaning_starts)
    assert Priority.from_rt_code(rt_code) is priority
    assert Priority.parse(priority.name) is priority
    assert Priority.parse(priority.value) is priority


def test_priorities_order_by_urgency() -> None:
    assert [int(p) for p in Priority] == [1, 2, 3, 4]
    assert Priority.P1 < Priority.P4


@pytest.mark.parametrize("code", [pytest.param(c, id=str(c)) for c in (0, 50, 81, 100)])
def test_unknown_rt_code_is_refused(code: int) -> None:
    with pytest.raises(SlaError, match=f"unknown RT priority code {code}"):
        Priority.from_rt_code(code)


@pytest.mark.parametrize("text", [pytest.param(t, id=t or "empty") for t in ("P5", "P0", "", "x")])
def test_unknown_priority_name_is_refused(text: str) -> None:
    with pytest.raises(SlaError, match="expected P1, P2, P3 or P4"):
        Priority.parse(text)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        pytest.param("technical_support_manager", Role.TECHNICAL_SUPPORT_MANAGER, id="value"),
        pytest.param("Technical Support Manager", Role.TECHNICAL_SUPPORT_MANAGER, id="label"),
        pytest.param("customer-relations-manager", Role.CUSTOMER_RELATIONS_MANAGER, id="dashes"),
        pytest.param("CTO", Role.CTO, id="upper"),
    ],
)
def test_role_parse(text: str, role: Role) -> None:
    assert Role.parse(text) is role


def test_role_values_and_labels_are_the_wire_names() -> None:
    assert [r.value for r in Role] == [
        "technical_support_manager",
        "customer_relations_manager",
        "cto",
    ]
    assert Role.CUSTOMER_RELATIONS_MANAGER.label == "Customer Relations Manager"
    assert Role.CTO.label == "CTO"


def test_unknown_role_is_refused() -> None:
    with pytest.raises(SlaError, match="unknown role 'ceo'"):
        Role.parse("ceo")
