"""The wire contract's request and response bodies (DESIGN.md), with their limits.

Unknown fields are ignored, not refused: agents newer than the collector may
send more, and the contract is stable for what it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    WithJsonSchema,
)

from portacare.checks import Status

__all__ = ["ResultIn", "AgentIn", "DroppedIn", "BatchIn", "BatchAccepted", "LIMITS"]


class Limits:
    results_per_batch = 1000
    summary_chars = 4096
    name_chars = 128
    metrics_per_result = 256
    details_bytes = 64 * 1024


LIMITS = Limits()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339), e.g. 2026-11-26T12:00:00Z")
    return value


_BY_NAME = {s.name: s for s in Status}


def _status_name(value: Any) -> Status:
    status = _BY_NAME.get(value) if type(value) is str else None
    if status is not None:  # as agents send it: one dictionary lookup per result
        return status
    if not isinstance(value, str):
        raise ValueError("must be one of OK, WARNING, CRITICAL, UNKNOWN")
    return Status.from_name(value)


WireStatus = Annotated[
    Status,
    BeforeValidator(_status_name),
    WithJsonSchema({"type": "string", "enum": [s.name for s in Status]}),
]
AwareTime = Annotated[datetime, AfterValidator(_aware)]
CheckName = Annotated[str, Field(min_length=1, max_length=LIMITS.name_chars)]


def _not_reserved(name: str) -> str:
    if name == "agent_silent":
        raise ValueError("'agent_silent' is the collector's own name for a silent agent")
    return name


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    check: Annotated[CheckName, AfterValidator(_not_reserved)]
    status: WireStatus
    summary: str = Field(max_length=LIMITS.summary_chars)
    observed_at: AwareTime
    duration_ms: int | None = Field(None, ge=0)
    # finite only: JSON has no NaN or infinity, PostgreSQL's json refuses them (a 500 before),
    # and the agent turns a check that measures one into UNKNOWN (checks/result.py)
    metrics: dict[Annotated[str, Field(max_length=200)], FiniteFloat] = Field(
        default_factory=dict, max_length=LIMITS.metrics_per_result
    )
    details: dict[str, Any] = Field(default_factory=dict)


class DroppedIn(BaseModel):
    """Results of one check an agent had to drop from a full spool (all of them OK)."""

    model_config = ConfigDict(extra="ignore")

    count: int = Field(ge=1)
    first_observed_at: AwareTime
    last_observed_at: AwareTime


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str | None = Field(None, max_length=64)
    interval_s: float = Field(60, gt=0, le=86400)
    check_intervals: dict[CheckName, Annotated[float, Field(gt=0, le=86400)]] = Field(
        default_factory=dict, max_length=LIMITS.metrics_per_result
    )
    dropped: dict[CheckName, DroppedIn] = Field(
        default_factory=dict, max_length=LIMITS.metrics_per_result
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    host: str = Field(min_length=1, max_length=253)
    batch_id: str = Field(min_length=1, max_length=128)
    agent: AgentIn = Field(default_factory=AgentIn)
    results: list[ResultIn] = Field(max_length=LIMITS.results_per_batch)


class BatchAccepted(BaseModel):
    accepted: int
    duplicate: bool
