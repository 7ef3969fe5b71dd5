"""Every problem of a value that a msgspec type refuses, each named by where it is.

msgspec stops at the first problem, and names an entry of a table only as
``[...]``. A person fixing a configuration file, or the author of an agent reading
a 422, wants every wrong key named at once, down to the entry of a list or table
that is wrong. A :class:`ProblemFinder` converts a refused value again piece by
piece (a struct's fields, a list's items, a table's keys and values) and keeps
the pieces that fail on their own. Only a refusal pays for it: accepting a value
stays one msgspec call. Check options (:mod:`.options`) and the collector's wire
contract (``collector/wire.py``) name their problems through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

__all__ = ["Problem", "Problems", "ProblemFinder", "is_struct", "join_location", "unwrap"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a value: where (``""`` for the value itself) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class Problems(ValueError):
    """A value refused, with every problem found in it (``problems``), each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class ProblemFinder:
    """How values are converted (as ``msgspec.convert`` is called) and problems worded.

    ``unknown_key``: what a key the struct does not declare is called, or None where
    such keys are ignored. ``dotted_indices``: a list's entry is ``results.0.check``
    (as JSON APIs name it) rather than ``servers[0].host`` (as TOML users read it).
    """

    strict: bool = True
    dec_hook: Callable[[type, Any], Any] | None = None
    unknown_key: str | None = None
    missing_key: str = "required"
    dotted_indices: bool = False

    def convert(self, value: Any, kind: Any) -> Any:
        """``value`` as ``kind``, or msgspec's ValidationError (its first problem)."""
        return msgspec.convert(value, kind, strict=self.strict, dec_hook=self.dec_hook)

    def every_problem(self, model: type, raw: Mapping[str, Any], where: str = "") -> list[Problem]:
        """Each key of ``raw`` (a table for the struct ``model``) checked on its own."""
        fields = {f.encode_name: f for f in msgspec.structs.fields(model)}
        problems = []
        if self.unknown_key is not None:
            problems += [
                Problem(join_location(where, str(key)), self.unknown_key)
                for key in raw
                if key not in fields
            ]
        problems += [
            Problem(join_location(where, name), self.missing_key)
            for name, info in fields.items()
            if info.required and name not in raw
        ]
        for _, kind, value, at in self.entries(model, raw, where) or []:
            problems += self.value_problems(at, value, kind)
        return problems

    def value_problems(self, where: str, value: Any, kind: Any) -> list[Problem]:
        """What is wrong with one value, down to the entry of a table or list that is wrong."""
        try:
            self.convert(value, kind)
            return []
        except msgspec.ValidationError as exc:
            whole = self.problem(str(exc))
        inner = unwrap(kind, value)
        found: list[Problem] = []
        if is_struct(inner) and isinstance(value, Mapping):
            found = self.every_problem(inner, value, where)  # unknown and missing keys too
        else:
            found = self._key_problems(inner, value, where)
            for _, entry, item, at in self.entries(kind, value, where) or []:
                found += self.value_problems(at, item, entry)
        if found:
            return found
        message = whole.message
        allowed = choices(kind)
        if message.startswith("Invalid enum value") and allowed:
            message += f" (expected {' or '.join(map(repr, allowed))})"
        return [Problem(join_location(where, whole.location), message)]

    def _key_problems(self, kind: Any, value: Any, where: str) -> list[Problem]:
        """A table's keys that its declared key type refuses (too long, say)."""
        if get_origin(kind) is not dict or not isinstance(value, Mapping):
            return []
        key_kind = get_args(kind)[0]
        problems = []
        for key in value:
            try:
                self.convert(key, key_kind)
            except msgspec.ValidationError as exc:
                message = self.problem(str(exc)).message
                problems.append(Problem(join_location(where, str(key)), f"the key: {message}"))
        return problems

    def entries(self, kind: Any, value: Any, where: str) -> list[tuple[Any, Any, Any, str]] | None:
        """(key, declared type, value, location) of each entry of a list, table or struct value.

        None for a single value; a struct's keys it does not declare are not among them.
        """
        inner = unwrap(kind, value)
        if isinstance(value, list) and get_origin(inner) is list:
            entry = get_args(inner)[0]
            return [(i, entry, item, self._index(where, i)) for i, item in enumerate(value)]
        if not isinstance(value, Mapping):
            return None
        if get_origin(inner) is dict:
            entry = get_args(inner)[1]
            return [
                (key, entry, item, join_location(where, str(key))) for key, item in value.items()
            ]
        if is_struct(inner):
            fields = {f.encode_name: f.type for f in msgspec.structs.fields(inner)}
            return [
                (key, fields[key], item, join_location(where, str(key)))
                for key, item in value.items()
                if key in fields
            ]
        return None

    def problem(self, message: str) -> Problem:
        """msgspec's ``"Expected `int` >= 1 - at `$.servers[0].port`"`` as location and message."""
        found = _AT.match(message)
        if found is None:
            return Problem("", message)
        text, path = found.groups()
        path = path.lstrip(".")
        if self.dotted_indices:
            path = _INDEX.sub(r".\1", path).lstrip(".")
        return Problem(path, text)

    def _index(self, where: str, index: int) -> str:
        return join_location(where, str(index)) if self.dotted_indices else f"{where}[{index}]"


def is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def unwrap(kind: Any, value: Any) -> Any:
    """``kind`` without ``Annotated`` and, for a value that is not None, without ``| None``."""
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, UnionType) and value is not None:
        rest = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(rest) == 1:
            return unwrap(rest[0], value)
    return kind


def choices(kind: Any) -> list[Any]:
    """The values a ``Literal`` anywhere in ``kind`` allows (inside lists, unions, Annotated)."""
    if get_origin(kind) is Literal:
        return list(get_args(kind))
    return [choice for inner in get_args(kind) for choice in choices(inner)]


def join_location(key: str, inner: str) -> str:
    """``servers`` and ``[0].port`` or ``port`` as one location."""
    if not key or not inner:
        return key or inner
    return f"{key}{inner}" if inner.startswith("[") else f"{key}.{inner}"
