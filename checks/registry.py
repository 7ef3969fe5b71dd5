"""Finding checks: every check, built-in or third-party, is an entry point.

A distribution adds a check by declaring, in its ``pyproject.toml``::

    [project.entry-points."portacare.checks"]
    my_check = "my_package.module:MyCheck"

Two distributions claiming one name is an error naming both, never a silent
winner. A check's module is imported when the check is first asked for: an agent
keeps in memory only the checks its configuration runs (the security and firewall
checks alone are about 2.5 MB). A check that fails to import is remembered with its
reason so the agent can report it as ``UNKNOWN`` instead of dying or silently
dropping it.
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
    """The checks registered, each loaded when first asked for; why others failed to load."""

    registered: dict[str, EntryPoint] = field(default_factory=dict)
    _loaded: dict[str, type[Check]] = field(default_factory=dict)
    _broken: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every registered check name, loadable or not, sorted (nothing is imported)."""
        return sorted(self.registered)

    def get(self, name: str) -> type[Check]:
        """The check class; CheckDiscoveryError says why a name cannot be used."""
        if name in self.registered:
            self._load(name)
        if name in self._loaded:
            return self._loaded[name]
        if name in self._broken:
            raise CheckDiscoveryError(f"check {name!r} failed to load: {self._broken[name]}")
        known = ", ".join(self.names()) or "none"
        raise CheckDiscoveryError(f"no check named {name!r} (known: {known})")

    @property
    def checks(self) -> dict[str, type[Check]]:
        """Every check that loads (importing them all: for listing, not for running)."""
        self._load_all()
        return dict(self._loaded)

    @property
    def broken(self) -> dict[str, str]:
        """Every check that does not load, with the reason (importing them all)."""
        self._load_all()
        return dict(self._broken)

    def _load_all(self) -> None:
        for name in self.registered:
            self._load(name)

    def _load(self, name: str) -> None:
        if name in self._loaded or name in self._broken:
            return
        ep = self.registered[name]
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            self._broken[name] = f"{type(exc).__name__}: {exc}"
            return
        if not (isinstance(loaded, type) and issubclass(loaded, Check)):
            self._broken[name] = f"{ep.value} is not a subclass of portacare Check"
            return
        if loaded.name and loaded.name != name:
            self._broken[name] = (
                f"{ep.value} declares the name {loaded.name!r} but is registered as {name!r}"
            )
            return
        loaded.name = name
        self._loaded[name] = loaded


def discover_checks(eps: Iterable[EntryPoint] | None = None) -> CheckRegistry:
    """Every check registered in the ``portacare.checks`` group, none of them imported yet.

    ``eps`` replaces the installed entry points (tests pass their own). Invalid and
    twice-claimed names are refused here, before anything is imported.
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
        registry.registered[ep.name] = ep
    return registry


def _distribution_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown distribution"
