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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
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
    "revoke_tokens",
]

ROLES = ("agent", "noc", "admin")
_PREFIX = "pc_"


@dataclass(frozen=True, slots=True)
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
    """Tokens authenticated lately, so an agent's push is not a database lookup.

    Keyed by the token's hash (the token itself is never kept) and bounded. Agents
    push about once a minute: entries that lived 30 s (so that a revoked token
    stopped working within 30 s) meant every push of a real fleet looked its token
    up, a query on the thread pool; only a load test's fast-cycling agents ever hit
    them. Entries now live ``ttl`` (15 minutes), and revocation is not waited out:
    at most every ``check_every`` seconds one query reads the tokens table's
    signature (how many tokens, how many revoked, the newest id), and any change
    empties the cache. A token revoked (``token revoke``) or deleted stops working
    within ``check_every`` seconds on every collector process.
    """

    def __init__(
        self,
        ttl: float = 900.0,
        size: int = 50_000,
        check_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.check_every = check_every
        self.clock = clock
        self.generation = 0  # emptied this many times; a lookup from before cannot be put
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._next_check = float("-inf")

    def get(self, token: str) -> Principal | None:
        key = hash_token(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] < self.clock():
                self._entries.pop(key, None)
                return None
            return entry[0]

    def put(self, token: str, principal: Principal, generation: int) -> None:
        """Remember ``principal``, looked up when the cache was at ``generation``.

        A lookup that began before the cache was last emptied may have read a token
        revoked since: it is not remembered.
        """
        with self._lock:
            if generation != self.generation:
                return
            self._entries[hash_token(token)] = (principal, self.clock() + self.ttl)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def check_due(self) -> bool:
        """Whether the tokens table is due a look; the caller that gets True does it."""
        with self._lock:
            now = self.clock()
            if now < self._next_check:
                return False
            self._next_check = now + self.check_every
            return True

    def check(self, session: Session) -> None:
        """Read the tokens table's signature; empty the cache if it changed since the last."""
        signature = tuple(
            session.execute(
                select(func.count(), func.count(Token.revoked_at), func.max(Token.id))
            ).one()
        )
        with self._lock:
            if self._signature is not None and signature != self._signature:
                self._entries.clear()
                self.generation += 1
            self._signature = signature


def revoke_tokens(
    session: Session, now: datetime, *, host: str | None = None, name: str | None = None
) -> int:
    """Revoke every live agent token of ``host``, or every live noc/admin token of ``name``.

    Returns how many were revoked; collectors stop accepting them within their
    cache's ``check_every`` (:class:`PrincipalCache`).
    """
    if (host is None) == (name is None):
        raise ValueError("revoke the tokens of a host or of a name, one of them")
    live = select(Token).where(Token.revoked_at.is_(None))
    if host is not None:
        live = live.join(Host, Host.id == Token.host_id).where(Host.name == host)
    else:
        live = live.where(Token.role != "agent", Token.name == name)
    tokens = session.scalars(live).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)
