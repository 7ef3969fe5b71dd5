"""Request priorities and the manager roles of the escalation ladder.

The priorities and their RT codes are the support programme's own
(``SUPPORT-POLICY.md``, "Priorities"); the collector shows both, so they live here
rather than in its configuration.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from .errors import SlaError

__all__ = ["Priority", "Role"]

_RT_CODES = {1: 80, 2: 60, 3: 40, 4: 20}
_MEANINGS = {
    1: "The customer's network is down or severely degraded, "
    "or business operations are critically impacted.",
    2: "The customer's network is degraded.",
    3: "The customer's network operation is impaired, yet generally functional.",
    4: "Configuration or planning assistance to optimise performance "
    "(includes web interface usage).",
}


class Priority(IntEnum):
    """A request's priority: 1 is the most urgent, 4 the least."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4

    @property
    def rt_code(self) -> int:
        """The Request Tracking system's code for this priority (80, 60, 40, 20)."""
        return _RT_CODES[self.value]

    @property
    def meaning(self) -> str:
        """What this priority means, in the policy's words."""
        return _MEANINGS[self.value]

    @classmethod
    def from_rt_code(cls, code: int) -> Priority:
        """The priority whose RT code is ``code``; ``SlaError`` for any other number."""
        for priority in cls:
            if priority.rt_code == code:
                return priority
        raise SlaError(f"unknown RT priority code {code!r} (expected one of 80, 60, 40, 20)")

    @classmethod
    def parse(cls, text: str | int) -> Priority:
        """Read ``"P1"``, ``"p1"``, ``"1"`` or ``1`` as a priority (configuration keys)."""
        raw = str(text).strip().upper().removeprefix("P")
        if raw in {"1", "2", "3", "4"}:
            return cls(int(raw))
        raise SlaError(f"unknown priority {text!r} (expected P1, P2, P3 or P4)")


class Role(StrEnum):
    """A manager the escalation ladder notifies; the value is the wire/config name."""

    TECHNICAL_SUPPORT_MANAGER = "technical_support_manager"
    CUSTOMER_RELATIONS_MANAGER = "customer_relations_manager"
    CTO = "cto"

    @property
    def label(self) -> str:
        """The role's name as people write it ("Technical Support Manager")."""
        return "CTO" if self is Role.CTO else self.value.replace("_", " ").title()

    @classmethod
    def parse(cls, text: str) -> Role:
        """Read a role from configuration: ``"cto"``, ``"Technical Support Manager"``..."""
        if isinstance(text, str):
            normalised = "_".join(text.strip().lower().replace("-", " ").split())
            for role in cls:
                if role.value == normalised:
                    return role
        expected = ", ".join(role.value for role in cls)
        raise SlaError(f"unknown role {text!r} (expected one of: {expected})")
