"""Silences (maintenance windows): what they cover and which one covers a check now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from .errors import InvalidRequest, NotFound
from .models import Silence

__all__ = ["SilenceIndex", "active_silence", "create_silence", "list_silences", "expire_silence"]


def _covers(customer: str | None, host: str, check: str | None) -> ColumnElement[bool]:
    """SQL condition: each field of a silence is unset or equals the subject's."""
    check_match: ColumnElement[bool] = Silence.check.is_(None)
    if check is not None:
        check_match = or_(check_match, Silence.check == check)
    customer_match: ColumnElement[bool] = Silence.customer.is_(None)
    if customer is not None:
        customer_match = or_(customer_match, Silence.customer == customer)
    return and_(or_(Silence.host.is_(None), Silence.host == host), check_match, customer_match)


def active_silence(
    session: Session, customer: str | None, host: str, check: str | None, now: datetime
) -> Silence | None:
    """The silence covering (customer, host, check) at ``now``, if any.

    ``check=None`` asks about the host as a whole (a silent agent): only
    silences that name no check cover it.
    """
    return session.scalar(
        select(Silence)
        .where(_covers(customer, host, check), Silence.starts_at <= now, Silence.ends_at > now)
        .order_by(Silence.ends_at.desc())
        .limit(1)
    )


def create_silence(
    session: Session,
    *,
    customer: str | None,
    host: str | None,
    check: str | None,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    reason: str,
    now: datetime,
) -> Silence:
    if not (customer or host or check):
        raise InvalidRequest("a silence must name a customer, a host, a check, or host and check")
    if ends_at <= starts_at:
        raise InvalidRequest("a silence must end after it starts")
    silence = Silence(
        customer=customer,
        host=host,
        check=check,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        reason=reason,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def list_silences(session: Session, now: datetime, include_expired: bool = False) -> list[Silence]:
    query = select(Silence).order_by(Silence.starts_at)
    if not include_expired:
        query = query.where(Silence.ends_at > now)
    return list(session.scalars(query))


def expire_silence(session: Session, silence_id: int, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"no silence number {silence_id}")
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
    return silence


class SilenceIndex:
    """The silences in force at one moment, read once, asked many times (a sweep's loop)."""

    def __init__(self, silences: list[Silence]) -> None:
        self._silences = silences

    @classmethod
    def load(cls, session: Session, now: datetime) -> SilenceIndex:
        active = session.scalars(
            select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now)
        )
        return cls(list(active))

    def covers(self, customer: str | None, host: str, check: str | None) -> bool:
        """Same rule as :func:`active_silence`: each field unset or equal."""
        return any(
            (s.customer is None or s.customer == customer)
            and (s.host is None or s.host == host)
            and (s.check is None or (check is not None and s.check == check))
            for s in self._silences
        )
