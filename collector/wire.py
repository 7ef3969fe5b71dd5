"""The wire contract's request and response bodies (DESIGN.md), with their limits.

Unknown fields are ignored, not refused: agents newer than the collector may
send more, and the contract is stable for what it names.

The bodies are msgspec structs, decoded from the request's bytes in one C pass
(:func:`decode_batch`): the results route is the collector's busiest, and
pydantic's validation of the same body took about four times as long (21 against
5.6 µs for a batch of ten, same machine), about 6 % of the collector's CPU per
request under wrk (paired runs, batches of 10). A refused body is decoded again,
piece by piece, to name every wrong field (:class:`.struct_problems.ProblemFinder`);
that costs only refusals. The OpenAPI document describes these structs
(:func:`openapi_components`), so what is documented is what is decoded.
"""

from __future__ import annotations

import json
import sys
from abc import ABC
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import msgspec
from msgspec import Meta

from portacare.checks import Status
from portacare.checks.struct_problems import Problem, ProblemFinder, Problems

__all__ = [
    "ResultIn",
    "AgentIn",
    "DroppedIn",
    "BatchIn",
    "BatchAccepted",
    "LIMITS",
    "WireError",
    "batch_from",
    "decode_batch",
    "encode_answer",
    "openapi_components",
]


class Limits:
    results_per_batch = 1000
    summary_chars = 4096
    name_chars = 128
    metrics_per_result = 256


LIMITS = Limits()
#: the name the collector gives a silent agent's check: no agent may report it
SILENT_AGENT_CHECK = "agent_silent"

_BY_NAME = {s.name: s for s in Status}
_STATUS_CHOICES = ", ".join(_BY_NAME)

if TYPE_CHECKING:
    WireStatus: TypeAlias = Status
    ResultCheck: TypeAlias = str
else:

    class WireStatus(ABC):  # noqa: B024 (a name for msgspec's hook, nothing to implement)
        """A status by its name, in any case (``"CRITICAL"``, ``"critical"``): a ``Status``.

        msgspec reads an ``IntEnum`` from its number; the wire carries names, so this
        type is built by :func:`_build`, and ``Status`` is registered as its subclass.
        """

    class ResultCheck(ABC):  # noqa: B024
        """A result's check name: 1-128 characters, not the collector's own ``agent_silent``."""

    WireStatus.register(Status)
    ResultCheck.register(str)


def _status(value: object) -> Status:
    status = _BY_NAME.get(value) if type(value) is str else None
    if status is not None:  # as agents send it: one dictionary lookup per result
        return status
    if isinstance(value, Status):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be one of {_STATUS_CHOICES}")
    return Status.from_name(value)


def _check_name(value: object) -> str:
    if type(value) is not str:
        raise ValueError("must be a string")
    if not 1 <= len(value) <= LIMITS.name_chars:
        raise ValueError(f"must be 1 to {LIMITS.name_chars} characters")
    if value == SILENT_AGENT_CHECK:
        raise ValueError(f"{SILENT_AGENT_CHECK!r} is the collector's own name for a silent agent")
    return value


_BUILDERS = {WireStatus: _status, ResultCheck: _check_name}


def _build(kind: type, value: Any) -> Any:
    """msgspec's hook for the wire's own types."""
    return _BUILDERS[kind](value)


def _schema(kind: type) -> dict[str, Any]:
    """JSON Schema of the wire's own types, for the OpenAPI document."""
    if kind is WireStatus:
        return {"type": "string", "enum": list(_BY_NAME)}
    if kind is ResultCheck:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": LIMITS.name_chars,
            "not": {"const": SILENT_AGENT_CHECK},
        }
    raise NotImplementedError(kind)


AwareTime = Annotated[
    datetime, Meta(tz=True, description="RFC 3339 with a UTC offset, e.g. 2026-11-26T12:00:00Z")
]
CheckName = Annotated[str, Meta(min_length=1, max_length=LIMITS.name_chars)]
# finite only: JSON has no NaN or infinity, PostgreSQL's json refuses them (a 500 once), and
# the agent turns a check that measures one into UNKNOWN (checks/result.py); 1e999 reads as inf
FiniteFloat = Annotated[float, Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
Interval = Annotated[float, Meta(gt=0, le=86400)]


class ResultIn(msgspec.Struct, kw_only=True, frozen=True):
    check: ResultCheck
    status: WireStatus
    summary: Annotated[str, Meta(max_length=LIMITS.summary_chars)]
    observed_at: AwareTime
    duration_ms: Annotated[int, Meta(ge=0)] | None = None
    metrics: Annotated[
        dict[Annotated[str, Meta(max_length=200)], FiniteFloat],
        Meta(max_length=LIMITS.metrics_per_result),
    ] = {}
    details: dict[str, Any] = {}


class DroppedIn(msgspec.Struct, kw_only=True, frozen=True):
    """Results of one check an agent had to drop from a full spool (all of them OK)."""

    count: Annotated[int, Meta(ge=1)]
    first_observed_at: AwareTime
    last_observed_at: AwareTime


class AgentIn(msgspec.Struct, kw_only=True, frozen=True):
    version: Annotated[str, Meta(max_length=64)] | None = None
    interval_s: Interval = 60.0
    check_intervals: Annotated[
        dict[CheckName, Interval], Meta(max_length=LIMITS.metrics_per_result)
    ] = {}
    dropped: Annotated[dict[CheckName, DroppedIn], Meta(max_length=LIMITS.metrics_per_result)] = {}


class BatchIn(msgspec.Struct, kw_only=True, frozen=True):
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    batch_id: Annotated[str, Meta(min_length=1, max_length=128)]
    agent: AgentIn = msgspec.field(default_factory=AgentIn)
    results: Annotated[list[ResultIn], Meta(max_length=LIMITS.results_per_batch)]


class BatchAccepted(msgspec.Struct, kw_only=True, frozen=True):
    accepted: int
    duplicate: bool


class WireError(Problems):
    """A body the wire contract refuses; ``problems`` names every wrong field."""


_DECODER = msgspec.json.Decoder(BatchIn, dec_hook=_build)
_ENCODER = msgspec.json.Encoder()
_FINDER = ProblemFinder(strict=True, dec_hook=_build, dotted_indices=True)
#: a refusal names at most this many problems (a batch of 1,000 bad results would name 7,000)
MOST_PROBLEMS = 50


def decode_batch(body: bytes) -> BatchIn:
    """The batch in a request's body, or :class:`WireError` naming every wrong field."""
    try:
        return _DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise WireError(_body_problems(body, exc)) from None


def batch_from(value: Mapping[str, Any]) -> BatchIn:
    """A batch from a parsed JSON object (tests, benchmarks), or :class:`WireError`."""
    try:
        return _FINDER.convert(value, BatchIn)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise WireError(_problems(value, exc)) from None


def encode_answer(answer: BatchAccepted) -> bytes:
    return _ENCODER.encode(answer)


def _body_problems(body: bytes, first: Exception) -> list[Problem]:
    """Every problem of a refused body: JSON it is not, or each field that is wrong.

    Python's own parser reads what msgspec's refuses as malformed but a careless
    client may still send (``NaN``, ``Infinity``), so such a metric is named too.
    """
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return [Problem("body", f"not JSON: {exc}")]
    if not isinstance(value, dict):
        return [Problem("body", "must be a JSON object")]
    return _problems(value, first)


def _problems(value: Mapping[str, Any], first: Exception) -> list[Problem]:
    found = _FINDER.every_problem(BatchIn, value) or [_FINDER.problem(str(first))]
    named = [_worded(problem) for problem in found[:MOST_PROBLEMS]]
    if len(found) > MOST_PROBLEMS:
        named.append(Problem("body", f"and {len(found) - MOST_PROBLEMS} more problems"))
    return named


def _worded(problem: Problem) -> Problem:
    """msgspec's wording where it would puzzle: a float's bounds stand for "finite"."""
    if "float` >=" in problem.message or "float` <=" in problem.message:
        return Problem(problem.location, "must be a finite number (JSON has no NaN or infinity)")
    if problem.message.endswith("with a timezone component"):
        return Problem(
            problem.location, "must carry a UTC offset (RFC 3339), e.g. 2026-11-26T12:00:00Z"
        )
    return problem


def openapi_components() -> dict[str, Any]:
    """The bodies' JSON Schemas, by name, for the OpenAPI document's components."""
    _, components = msgspec.json.schema_components(
        [BatchIn, BatchAccepted],
        schema_hook=_schema,
        ref_template="#/components/schemas/{name}",
    )
    return components
