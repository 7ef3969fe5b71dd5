"""Finding checks: every check, built-in or third-party, is an entry point.

A distribution adds a check by declaring, in its ``pyproject.toml``::

    [project.entry-points."portacare.checks"]
    my_check = "my_package.module:MyCheck"

Two distributions claiming one name is an error naming both, never a silent
winner. A check that fails to import is remembered with its reason so the agent
can report it as ``UNKNOWN`` instead of dying or silently dropping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from .base import Check
from .errors import CheckDiscoveryError

__all__ = ["ENTRY_POINT_GROUP", "CheckRegistry", "discover_checks"]

ENTRY_POINT_GROUP = "portacare.checks"
_VALID_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass
class CheckRegistry:
    """The checks found: loadable ones by name, and the reasons others failed to load."""

    checks: dict[str, type[Check]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every known check name, loadable or not, sorted."""
        return sorted({*self.checks, *self.broken})

    def get(self, name: str) -> type[Check]:
        """The check class; CheckDiscoveryError says why a name cannot be used."""
        if name in self.checks:
            return self.checks[name]
        if name in self.broken:
            raise CheckDiscoveryError(f"check {name!r} failed to load: {self.broken[name]}")
        known = ", ".join(self.names()) or "none"
        raise CheckDiscoveryError(f"no check named {name!r} (known: {known})")


def discover_checks(eps: Iterable[EntryPoint] | None = None) -> CheckRegistry:
    """Load every check registered in the ``portacare.checks`` group.

    ``eps`` replaces the installed entry points (tests pass their own).
    """
    if eps is None:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    registry = CheckRegistry()
    origins: dict[str, str] = {}
    for ep in eps:
        origin = f"{ep.value} ({_distribution_name(ep)})"
        if not _VALID_NAME.match(ep.name):
            raise CheckDiscoveryError(
                f"check name {ep.name!r} from {origin} is invalid: use lower-case letters, "
                "digits and underscores, starting with a letter"
            )
        if ep.name in origins:
            if origins[ep.name] == origin:
                continue  # the same distribution seen twice on sys.path
            raise CheckDiscoveryError(
                f"check name {ep.name!r} is registered twice: by {origins[ep.name]} and by {origin}"
            )
        origins[ep.name] = origin
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            registry.broken[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Check)):
            registry.broken[ep.name] = f"{ep.value} is not a subclass of portacare Check"
            continue
        if loaded.name and loaded.name != ep.name:
            registry.broken[ep.name] = (
                f"{ep.value} declares the name {loaded.name!r} but is registered as {ep.name!r}"
            )
            continue
        loaded.name = ep.name
        registry.checks[ep.name] = loaded
    return registry


def _distribution_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown distribution"
