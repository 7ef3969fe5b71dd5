"""Support plans: the targets and escalation ladders a customer is held to.

:data:`STANDARD_PLAN` is the support policy as published. A customer's plan
("or as agreed between customer and PortaOne") is the standard plan with some
entries overridden, built from the collector's TOML with
:meth:`SupportPlan.from_dict`::

    premium = SupportPlan.from_dict("premium", {
        "first_response": {"P1": "30m", "P3": "4h business"},
        "updates": {"P1": "30m"},
        "escalation": {"P1": [["0m", "technical_support_manager"], ["30m", "cto"]]},
    })
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from .errors import SlaError
from .priorities import Priority, Role
from .targets import EscalationStep, Target, parse_duration, parse_target

__all__ = ["STANDARD_PLAN", "SupportPlan", "load_plans"]

_SECTIONS = ("first_response", "updates", "escalation")


@dataclass(frozen=True)
class SupportPlan:
    """A named set of targets and ladders, one entry per priority for each.

    ``ladders`` lists each priority's escalation steps in time order; a role
    appears at most once per ladder, because "each step notifies its role once"
    and notifications are remembered per role. A priority may have no steps.
    """

    name: str
    first_response: Mapping[Priority, Target]
    updates: Mapping[Priority, Target]
    ladders: Mapping[Priority, tuple[EscalationStep, ...]]

    def __post_init__(self) -> None:
        for section, table in (("first_response", self.first_response), ("updates", self.updates)):
            frozen = _per_priority(self.name, section, table)
            for priority, target in frozen.items():
                if not isinstance(target, Target):
                    raise SlaError(
                        f"expected a Target, got {target!r}", key=f"{section}.{priority.name}"
                    )
            object.__setattr__(self, section, frozen)
        ladders = _per_priority(self.name, "escalation", self.ladders)
        object.__setattr__(
            self,
            "ladders",
            MappingProxyType({p: _check_ladder(p, tuple(steps)) for p, steps in ladders.items()}),
        )

    def __hash__(self) -> int:
        # Frozen, so hashable like its siblings; the mappings are hashed by content.
        return hash(
            (
                self.name,
                tuple(self.first_response.items()),
                tuple(self.updates.items()),
                tuple(self.ladders.items()),
            )
        )

    @classmethod
    def from_dict(
        cls, name: str, data: Mapping[str, Any], base: SupportPlan | None = None
    ) -> SupportPlan:
        """A plan called ``name``: ``base`` (default: the standard plan) with ``data`` over it.

        ``data`` may hold ``first_response`` and ``updates`` (priority -> target
        string, e.g. ``{"P3": "4h business"}``) and ``escalation`` (priority -> the
        whole new ladder, a list of ``[after, role]`` pairs or ``{after, role}``
        tables). Anything not given is the base's. Bad data raises ``SlaError``
        whose ``key`` names the entry, e.g. ``"escalation.P1[1].role"``.
        """
        base = STANDARD_PLAN if base is None else base
        if not isinstance(name, str) or not name.strip():
            raise SlaError(f"a plan needs a non-empty name, got {name!r}", key="name")
        if not isinstance(data, Mapping):
            raise SlaError(f"a plan is a table of settings, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_SECTIONS))
        if unknown:
            raise SlaError(f"unknown setting (expected: {', '.join(_SECTIONS)})", key=unknown[0])
        first_response = dict(base.first_response)
        updates = dict(base.updates)
        ladders = dict(base.ladders)
        for priority, value, key in _entries(data, "first_response"):
            first_response[priority] = parse_target(value, key=key)
        for priority, value, key in _entries(data, "updates"):
            updates[priority] = parse_target(value, key=key)
        for priority, value, key in _entries(data, "escalation"):
            ladders[priority] = _parse_ladder(value, key)
        return cls(name, first_response, updates, ladders)


def load_plans(data: Mapping[str, Any]) -> dict[str, SupportPlan]:
    """Every named plan of a configuration table, for choosing one per customer.

    ``data`` maps plan names to :meth:`SupportPlan.from_dict` tables; each may
    also say ``base = "other plan"`` (default ``"standard"``) to build on another
    plan. ``"standard"`` is always there and may itself be overridden. Errors
    name the plan: ``SlaError`` with ``key="premium.first_response.P1"``.
    """
    if not isinstance(data, Mapping):
        raise SlaError(f"plans are a table of named plans, got {type(data).__name__}")
    plans: dict[str, SupportPlan] = {}

    def build(name: str, chain: tuple[str, ...]) -> SupportPlan:
        if name in plans:
            return plans[name]
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            raise SlaError(f"a plan is a table of settings, got {table!r}", key=name)
        base_name = table.get("base", "standard")
        if name == "standard":
            if base_name != "standard":
                raise SlaError("the standard plan builds on the policy itself", key=f"{name}.base")
            base = STANDARD_PLAN
        else:
            if not isinstance(base_name, str) or base_name not in {"standard", *data}:
                raise SlaError(f"unknown base plan {base_name!r}", key=f"{name}.base")
            if base_name in chain:
                cycle = " -> ".join((*chain, base_name))
                raise SlaError(
                    f"plans build on each other in a circle: {cycle}", key=f"{name}.base"
                )
            base = build(base_name, (*chain, base_name))
        overrides = {key: value for key, value in table.items() if key != "base"}
        try:
            plans[name] = SupportPlan.from_dict(name, overrides, base)
        except SlaError as exc:
            key = name if exc.key is None else f"{name}.{exc.key}"
            raise SlaError(exc.reason, key=key) from exc
        return plans[name]

    for name in ("standard", *data):
        build(name, (name,))
    return plans


def _per_priority(plan: str, section: str, table: Any) -> MappingProxyType[Priority, Any]:
    if not isinstance(table, Mapping):
        raise SlaError(f"plan {plan!r}: expected a mapping of priorities", key=section)
    missing = [p.name for p in Priority if p not in table]
    if missing:
        raise SlaError(f"plan {plan!r}: no entry for {', '.join(missing)}", key=section)
    extra = [k for k in table if not isinstance(k, Priority)]
    if extra:
        raise SlaError(f"plan {plan!r}: keys must be Priority, got {extra[0]!r}", key=section)
    return MappingProxyType({p: table[p] for p in Priority})


def _check_ladder(priority: Priority, steps: tuple[Any, ...]) -> tuple[EscalationStep, ...]:
    key = f"escalation.{priority.name}"
    for index, step in enumerate(steps):
        if not isinstance(step, EscalationStep):
            raise SlaError(f"expected an EscalationStep, got {step!r}", key=f"{key}[{index}]")
    seen: set[Role] = set()
    for index, step in enumerate(steps):
        if step.role in seen:
            raise SlaError(
                f"{step.role.value} appears twice; a role is notified once per request",
                key=f"{key}[{index}].role",
            )
        seen.add(step.role)
    # Kept in time order so the schedule reads top to bottom like the policy's table.
    return tuple(sorted(steps, key=lambda step: step.after))


def _entries(data: Mapping[str, Any], section: str) -> list[tuple[Priority, Any, str]]:
    table = data.get(section)
    if table is None:
        return []
    if not isinstance(table, Mapping):
        raise SlaError(
            f'expected a table keyed by priority ("P1".."P4"), got {table!r}', key=section
        )
    entries = []
    for raw, value in table.items():
        try:
            priority = Priority.parse(raw)
        except SlaError as exc:
            raise SlaError(exc.reason, key=f"{section}.{raw}") from exc
        entries.append((priority, value, f"{section}.{raw}"))
    return entries


def _parse_ladder(value: Any, key: str) -> tuple[EscalationStep, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SlaError(f"expected a list of [after, role] pairs, got {value!r}", key=key)
    steps = []
    for index, item in enumerate(value):
        here = f"{key}[{index}]"
        if isinstance(item, Mapping):
            extra = sorted(set(item) - {"after", "role"})
            if extra or "after" not in item or "role" not in item:
                raise SlaError(f"expected keys after and role, got {sorted(item)}", key=here)
            after, role = item["after"], item["role"]
        elif isinstance(item, list | tuple) and len(item) == 2:
            after, role = item
        else:
            raise SlaError(
                f'expected ["after", "role"], e.g. ["1h", "cto"], got {item!r}', key=here
            )
        try:
            parsed_role = Role.parse(role)
        except SlaError as exc:
            raise SlaError(exc.reason, key=f"{here}.role") from exc
        steps.append(EscalationStep(parse_duration(after, key=f"{here}.after"), parsed_role))
    return tuple(steps)


def _h(hours: int) -> Target:
    return Target.clock_hours(hours)


def _step(hours: int, role: Role) -> EscalationStep:
    return EscalationStep(timedelta(hours=hours), role)


_TSM = Role.TECHNICAL_SUPPORT_MANAGER
_CRM = Role.CUSTOMER_RELATIONS_MANAGER

STANDARD_PLAN = SupportPlan(
    name="standard",
    first_response={
        Priority.P1: _h(1),
        Priority.P2: _h(2),
        Priority.P3: Target.business_days(1),
        Priority.P4: Target.business_days(2),
    },
    updates={
        Priority.P1: _h(1),
        Priority.P2: _h(2),
        Priority.P3: Target.business_days(1),
        Priority.P4: Target.business_days(2),
    },
    ladders={
        Priority.P1: (_step(0, _TSM), _step(1, _CRM), _step(4, Role.CTO)),
        Priority.P2: (_step(1, _TSM), _step(4, _CRM), _step(8, Role.CTO)),
        Priority.P3: (_step(48, _TSM), _step(96, _CRM)),
        Priority.P4: (_step(96, _TSM),),
    },
)
"""The support policy as published (``SUPPORT-POLICY.md``): every customer's default."""
