"""Check options: typed, validated before anything runs, and light to keep in memory.

Every check declares its options as a msgspec ``Struct`` (through :class:`Options`,
which refuses unknown keys and is frozen); constraints and the description a user
reads sit in the annotation::

    class UptimeOptions(CheckOptions):
        warning_days: Annotated[int, Meta(gt=0, description="warn when up longer")] = 365

        def __post_init__(self) -> None:      # checks that span fields
            if self.warning_days > 3650:
                raise ValueError("warning_days: ten years at most")

Why msgspec and not pydantic: the agent lives on customers' servers, and pydantic's
schema machinery alone held about 9 MB of the agent's resident memory for options
read once at start-up (measured with every built-in check: 43.6 MB with pydantic,
bench/agent.py). msgspec validates the same TOML tables in C for about 1 MB.

:func:`parse_options` is the one way in: it accepts what TOML gives (an integer
for a float, a string for a path, ``"10MB"`` for a size) and, when a table is
wrong, reports every wrong key at once as :class:`OptionsError`, as a user fixing
a configuration file wants. Types msgspec does not know (``Path``, :class:`ByteSize`,
IP addresses, or a check's own) are built by a ``parse_option`` class method (a plain
class: msgspec reads a dataclass as a table only). A table users may also write as one
line of text gives a ``from_text`` class method returning the table::

    class Server(Options):                      # "ntp1:123" or {host = "ntp1", port = 123}
        host: Annotated[str, Meta(min_length=1)]
        port: Annotated[int, Meta(ge=1, le=65535)] = 123

        @classmethod
        def from_text(cls, text: str) -> dict[str, Any]:
            host, _, port = text.rpartition(":")
            return {"host": host, "port": int(port)} if host else {"host": text}
"""

from __future__ import annotations

import ipaddress
import re
from abc import ABC
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import msgspec
from msgspec import Meta, field

from .struct_problems import Problem, ProblemFinder, Problems, unwrap

__all__ = [
    "ByteSize",
    "IPAddress",
    "IPAddressOption",
    "Meta",
    "Options",
    "OptionsError",
    "Problem",
    "field",
    "parse_options",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

OptionsT = TypeVar("OptionsT")


_StructMeta: Any = type(msgspec.Struct)


class _OptionsMeta(_StructMeta):  # type: ignore[misc]
    """Makes every table's own fields keyword-only (msgspec does not pass ``kw_only`` on)."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kw: Any
    ) -> type:
        kw.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **kw)  # type: ignore[no-any-return]


if TYPE_CHECKING:
    # Type checkers require every subclass of a frozen struct to say frozen=True again;
    # at run time msgspec passes it on. Checks write ``class X(CheckOptions)``, and
    # assigning to an option fails when it runs (AttributeError), as tests show.
    class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
        """A table of options (see below)."""

else:

    class Options(msgspec.Struct, metaclass=_OptionsMeta, forbid_unknown_fields=True, frozen=True):
        """A frozen table of options that refuses keys it does not declare.

        Unknown keys are refused so a typo in the agent's TOML is an error at start-up,
        not a silently ignored threshold. Fields are keyword-only: a table has no order.
        """


class OptionsError(Problems):
    """A table of options that does not validate; ``problems`` names each wrong key."""


class ByteSize(int):
    """A number of bytes, written as ``1048576``, ``"10MB"`` (10^7) or ``"1GiB"`` (2^30)."""

    _UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
    _TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*$", re.IGNORECASE)

    @classmethod
    def parse_option(cls, value: object) -> ByteSize:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a size like 1048576, '10MB' or '1GiB', got {value!r}")
        if not isinstance(value, str):
            return cls._whole(value, value)
        match = cls._TEXT.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a size like '10MB' or '1GiB'")
        number, prefix, binary = match.groups()
        prefix = prefix.lower()
        if binary and not prefix:
            raise ValueError(f"{value!r} is not a size like '10MB' or '1GiB'")
        unit = 1024 ** "kmgtp".index(prefix) * 1024 if binary else cls._UNITS[prefix]
        return cls._whole(float(number) * unit, value)

    @classmethod
    def _whole(cls, amount: float, written: object) -> ByteSize:
        if amount < 0 or amount != int(amount):
            raise ValueError(f"{written!r}: a size is a whole number of bytes, 0 or more")
        return cls(int(amount))


def _ip_address(value: object) -> IPAddress:
    if not isinstance(value, str):
        raise ValueError(f"expected an IP address as text, got {value!r}")
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


if TYPE_CHECKING:
    IPAddressOption: TypeAlias = IPAddress
else:

    class IPAddressOption(ABC):  # noqa: B024 (a name for isinstance, nothing to implement)
        """Annotation for an IPv4 or IPv6 address option: an ``ipaddress`` object.

        msgspec accepts one custom type in a union, so the two address classes are
        announced by this one name (both registered as its subclasses); type checkers
        see the union itself.
        """

    IPAddressOption.register(ipaddress.IPv4Address)
    IPAddressOption.register(ipaddress.IPv6Address)


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a path, got {value!r}")
    return Path(value)


_BUILDERS: dict[Any, Callable[[object], Any]] = {Path: _path, IPAddressOption: _ip_address}


def _build_custom(kind: type, value: Any) -> Any:
    """msgspec's hook for types it does not know itself."""
    parse = _BUILDERS.get(kind) or getattr(kind, "parse_option", None)
    if parse is None:
        raise TypeError(f"option type {kind.__name__} has no parse_option class method")
    return parse(value)


_FINDER = ProblemFinder(
    strict=False,  # TOML's integer for a float, a string for a path or size
    dec_hook=_build_custom,
    unknown_key="unknown option",
    missing_key="required option missing",
)


def parse_options(model: type[OptionsT], raw: Any) -> OptionsT:
    """``raw`` (a parsed TOML table) as ``model``, or OptionsError naming every wrong key."""
    written: list[Problem] = []
    raw = _tables_from_text(model, raw, "", written)
    failure = Problem("", "invalid")
    if not written:
        try:
            return _FINDER.convert(raw, model)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            failure = _FINDER.problem(str(exc))
    seen = {problem.location for problem in written}
    found = _FINDER.every_problem(model, raw) if isinstance(raw, Mapping) else []
    problems = written + [problem for problem in found if problem.location not in seen]
    raise OptionsError(problems or [failure])


def _tables_from_text(kind: Any, value: Any, where: str, problems: list[Problem]) -> Any:
    """``value`` with each table written as text (a struct with ``from_text``) as its table.

    A text that does not read is left as it is, its problem added to ``problems``.
    """
    entries = _FINDER.entries(kind, value, where)
    if entries is None:
        from_text = getattr(unwrap(kind, value), "from_text", None)
        if not isinstance(value, str) or from_text is None:
            return value
        try:
            return from_text(value)
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            return value
    read = {key: _tables_from_text(k, item, at, problems) for key, k, item, at in entries}
    if isinstance(value, list):
        return [read[index] for index in range(len(value))]
    return {key: read.get(key, item) for key, item in value.items()}  # unknown keys as given
