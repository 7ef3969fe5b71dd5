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
IP addresses, or a check's own) are built by a ``parse_option`` class method::

    @dataclass(frozen=True)
    class Server:
        host: str
        port: int = 123

        @classmethod
        def parse_option(cls, value: object) -> Server:  # "host:port" or a table
            ...
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import msgspec
from msgspec import Meta, field

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


class Options(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A frozen table of options that refuses keys it does not declare.

    Unknown keys are refused so a typo in the agent's TOML is an error at start-up,
    not a silently ignored threshold.
    """


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a table: where (``""`` for the table itself) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class OptionsError(ValueError):
    """A table of options that does not validate; ``problems`` names each wrong key."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


class ByteSize(int):
    """A number of bytes, written as ``1048576``, ``"10MB"`` (10^7) or ``"1GiB"`` (2^30)."""

    _UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
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


class IPAddressOption:
    """Annotation for an IPv4 or IPv6 address option; the value is an ``ipaddress`` object.

    msgspec accepts one custom type in a union, so the two address classes are
    announced by this one name and built by :func:`ipaddress.ip_address`.
    """

    @classmethod
    def parse_option(cls, value: object) -> IPAddress:
        if not isinstance(value, str):
            raise ValueError(f"expected an IP address as text, got {value!r}")
        try:
            return ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


def _build_custom(kind: type, value: Any) -> Any:
    """msgspec's hook for types it does not know itself."""
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a path, got {value!r}")
        return Path(value)
    parse = getattr(kind, "parse_option", None)
    if parse is None:
        raise TypeError(f"option type {kind.__name__} has no parse_option class method")
    return parse(value)


def parse_options(model: type[OptionsT], raw: Any) -> OptionsT:
    """``raw`` (a parsed TOML table) as ``model``, or OptionsError naming every wrong key."""
    try:
        return msgspec.convert(raw, model, strict=False, dec_hook=_build_custom)
    except msgspec.ValidationError as exc:
        problems = _every_problem(model, raw) if isinstance(raw, Mapping) else []
        raise OptionsError(problems or [_problem(str(exc))]) from None


def _every_problem(model: type, raw: Mapping[str, Any]) -> list[Problem]:
    """Each key of ``raw`` checked on its own: msgspec itself stops at the first problem."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(model)}
    problems = [Problem(str(key), "unknown option") for key in raw if key not in fields]
    problems += [
        Problem(name, "required option missing")
        for name, info in fields.items()
        if info.required and name not in raw
    ]
    for key, value in raw.items():
        if key not in fields:
            continue
        try:
            msgspec.convert(value, fields[key].type, strict=False, dec_hook=_build_custom)
        except msgspec.ValidationError as exc:
            problem = _problem(str(exc))
            problems.append(Problem(_join(str(key), problem.location), problem.message))
    return problems


_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)


def _problem(message: str) -> Problem:
    """msgspec's ``"Expected `int` >= 1 - at `$.servers[0].port`"`` as location and message."""
    found = _AT.match(message)
    if found is None:
        return Problem("", message)
    text, path = found.groups()
    return Problem(path.lstrip("."), text)


def _join(key: str, inner: str) -> str:
    if not inner:
        return key
    return f"{key}{inner}" if inner.startswith("[") else f"{key}.{inner}"
