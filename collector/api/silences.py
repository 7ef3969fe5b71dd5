"""Silences (maintenance windows): create, list, end early."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, model_validator

from ..db import transaction
from ..models import Silence
from ..silences import create_silence, expire_silence, list_silences
from ..views import UtcTime
from .deps import AUTH_RESPONSES, NOT_FOUND, FactoryDep, NowDep, ReaderDep, RowId, SessionDep

router = APIRouter(
    prefix="/api/v1/silences", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND}
)


class SilenceIn(BaseModel):
    customer: str | None = Field(None, max_length=200)
    host: str | None = Field(None, max_length=253)
    check: str | None = Field(None, max_length=128)
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _scope_and_times(self) -> SilenceIn:
        if not (self.customer or self.host or self.check):
            raise ValueError("name a customer, a host, a check, or a host and a check")
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times must carry a UTC offset (RFC 3339)")
        return self


class SilenceView(BaseModel):
    id: int
    customer: str | None
    host: str | None
    check: str | None
    starts_at: UtcTime
    ends_at: UtcTime
    created_by: str
    reason: str


def _view(silence: Silence) -> SilenceView:
    return SilenceView.model_validate(silence, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SilenceView)
def add_silence(body: SilenceIn, who: ReaderDep, factory: FactoryDep, now: NowDep) -> SilenceView:
    """Hold back tickets and notifications for what the silence covers, from start to end."""
    with transaction(factory) as session:
        silence = create_silence(
            session,
            customer=body.customer,
            host=body.host,
            check=body.check,
            starts_at=body.starts_at or now,
            ends_at=body.ends_at,
            created_by=who.name,
            reason=body.reason,
            now=now,
        )
        return _view(silence)


@router.get("", response_model=list[SilenceView])
def get_silences(
    _: ReaderDep, session: SessionDep, now: NowDep, include_expired: bool = False
) -> list[SilenceView]:
    """Silences in force or still to come (and past ones when asked)."""
    return [_view(s) for s in list_silences(session, now, include_expired)]


@router.delete("/{silence_id}", response_model=SilenceView)
def end_silence(
    silence_id: RowId, request: Request, _: ReaderDep, factory: FactoryDep, now: NowDep
) -> SilenceView:
    """End a silence now; what still fails opens its ticket at the next sweep."""
    with transaction(factory) as session:
        return _view(expire_silence(session, silence_id, now))
