"""Bearer tokens: random, shown once, stored as a SHA-256 hash, each with a role.

Tokens are 256 random bits, so an unsalted fast hash is enough (as GitHub does):
nobody can brute-force the preimage, and lookup by hash needs no secret compare.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Host, Token

__all__ = [
    "PrincipalCache",
    "ROLES",
    "Principal",
    "hash_token",
    "issue_agent_token",
    "issue_role_token",
    "authenticate",
]

ROLES = ("agent", "noc", "admin")
_PREFIX = "pc_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as."""

    role: str
    name: str
    host_id: int | None = None
    host_name: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return _PREFIX + secrets.token_urlsafe(32)


def issue_agent_token(session: Session, host: str, customer: str | None, now: datetime) -> str:
    """Create (or reuse) the host and bind a new agent token to it; returns the token."""
    record = session.scalar(select(Host).where(Host.name == host))
    if record is None:
        record = Host(name=host, customer=customer, created_at=now, check_intervals={})
        session.add(record)
        session.flush()
    elif customer is not None:
        record.customer = customer
    token = _new_token()
    session.add(
        Token(
            token_hash=hash_token(token), role="agent", name=host, host_id=record.id, created_at=now
        )
    )
    return token


def issue_role_token(session: Session, role: str, name: str, now: datetime) -> str:
    """Create a NOC or admin token named after its holder; returns the token."""
    if role not in ("noc", "admin"):
        raise ValueError(f"role must be noc or admin, not {role!r}")
    token = _new_token()
    session.add(Token(token_hash=hash_token(token), role=role, name=name, created_at=now))
    return token


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a token stands for, or None for an unknown or revoked token."""
    row = session.execute(
        select(Token, Host.name)
        .outerjoin(Host, Host.id == Token.host_id)
        .where(Token.token_hash == hash_token(token), Token.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    record, host_name = row
    return Principal(record.role, record.name, record.host_id, host_name)


class PrincipalCache:
    """Recently authenticated tokens, so a busy agent is not looked up on every push.

    Keyed by the token's hash (the token itself is never kept), bounded, and
    short-lived: a token revoked in the database stops working within ``ttl``.
    """

    def __init__(self, ttl: float = 30.0, size: int = 20_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        key = hash_token(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[0]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            self._entries[hash_token(token)] = (principal, time.monotonic() + self.ttl)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
