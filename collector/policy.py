"""Which priority a failing check gets: DESIGN.md's default table, overridable per check.

>>> priority_for("disk", Status.CRITICAL, {})
<Priority.P2: 2>
>>> priority_for("anything", Status.UNKNOWN, {}) is Priority.P4
True
"""

from __future__ import annotations

from collections.abc import Mapping

from portacare.checks import Status
from portacare.sla import Priority

from .settings import PriorityOverride

__all__ = ["DEFAULT_PRIORITIES", "SILENT_CHECK", "priority_for"]

#: The pseudo-check under which a silent agent's ticket is filed.
SILENT_CHECK = "agent_silent"

_W, _C = Status.WARNING, Status.CRITICAL
DEFAULT_PRIORITIES: dict[str, dict[Status, Priority]] = {
    SILENT_CHECK: {_C: Priority.P2},
    "db_replication": {_W: Priority.P3, _C: Priority.P2},
    "disk": {_W: Priority.P3, _C: Priority.P2},
    "firewall": {_W: Priority.P3, _C: Priority.P2},
    "security": {_W: Priority.P3, _C: Priority.P1},
    "ntp": {_W: Priority.P3, _C: Priority.P2},
    "dns": {_W: Priority.P3, _C: Priority.P2},
    "backups": {_W: Priority.P4, _C: Priority.P3},
    "log_rotation": {_W: Priority.P4, _C: Priority.P3},
    "os_errata": {_W: Priority.P4, _C: Priority.P3},
}
#: Checks not in the table (Nagios plugins, third-party checks): impaired, yet generally functional.
FALLBACK = {_W: Priority.P3, _C: Priority.P2}
UNKNOWN_PRIORITY = Priority.P4


def priority_for(
    check: str,
    status: Status,
    overrides: Mapping[str, PriorityOverride],
    check_type: str | None = None,
) -> Priority | None:
    """The priority of a ticket for ``check`` in ``status``; None where no ticket is due.

    ``check_type`` is the registered check behind a named instance
    (``orders_db`` of type ``db_replication``): the instance's own override
    wins, then its type's, then the default table.
    """
    if status is Status.OK:
        return None
    for name in (check, check_type):
        override = overrides.get(name) if name else None
        chosen = getattr(override, status.name, None) if override else None
        if chosen is not None:
            return Priority(chosen)
    if status is Status.UNKNOWN:
        return UNKNOWN_PRIORITY
    table = DEFAULT_PRIORITIES.get(check) or DEFAULT_PRIORITIES.get(check_type or "") or FALLBACK
    return table.get(status)
