"""Shared dependencies of the routes: the database session, the clock, who is asking."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ..db import reading
from ..throttle import FailureThrottle
from ..tokens import Principal, PrincipalCache, authenticate

__all__ = [
    "SessionDep",
    "NowDep",
    "AgentDep",
    "ReaderDep",
    "principal_from",
    "AUTH_RESPONSES",
    "NOT_FOUND",
]


def get_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions  # type: ignore[no-any-return]


# Dependencies that never block are ``async def``: FastAPI runs a plain ``def`` dependency
# in its thread pool, a thread hop per dependency per request that a busy ingest feels.


async def factory_of(request: Request) -> sessionmaker[Session]:
    return get_factory(request)


def get_session(request: Request) -> Iterator[Session]:
    """The NOC's reads: a session that never queues for SQLite's write lock.

    Routes that change something open their own ``transaction``. A read that
    queued behind a writer waited for whole group commits and for the history's
    moves (100 ms p95 for the host list while one ran); in WAL mode it reads the
    last commit instead.
    """
    with reading(get_factory(request)) as session:
        yield session


async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def principal_from(request: Request) -> Principal:
    """The token's principal; 401 when the header is missing or the token unknown.

    An address with too many recent failures gets 429 before its token is even
    looked at. Only a token missing from the cache is looked up (in a worker thread).
    """
    throttle: FailureThrottle = request.app.state.auth_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(address)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed authentications from this address",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        cache: PrincipalCache = request.app.state.principal_cache
        if cache.check_due():  # revocations: one look at the tokens table every few seconds
            await run_in_threadpool(_check_tokens, get_factory(request), cache)
        principal = cache.get(token.strip())
        if principal is None:
            generation = cache.generation
            principal = await run_in_threadpool(_look_up, get_factory(request), token.strip())
            if principal is not None:
                cache.put(token.strip(), principal, generation)
    if principal is None:
        throttle.failed(address)
        reason = "unknown or revoked token" if token.strip() else "missing bearer token"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def _look_up(factory: sessionmaker[Session], token: str) -> Principal | None:
    with reading(factory) as session:
        return authenticate(session, token)


def _check_tokens(factory: sessionmaker[Session], cache: PrincipalCache) -> None:
    with reading(factory) as session:
        cache.check(session)


async def agent_principal(principal: Annotated[Principal, Depends(principal_from)]) -> Principal:
    if principal.role != "agent":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only agent tokens push results")
    return principal


async def reader_principal(principal: Annotated[Principal, Depends(principal_from)]) -> Principal:
    if principal.role not in ("noc", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reading needs a noc or admin token")
    return principal


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown token"},
    403: {"description": "the token's role may not do this"},
    429: {"description": "too many failed authentications from this address"},
    503: {"description": "database unavailable; retry later"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such host, check, ticket or silence"}
}


#: a database id in a path: bounded so a huge number is a 422, never a database overflow
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]

SessionDep = Annotated[Session, Depends(get_session)]
FactoryDep = Annotated[sessionmaker[Session], Depends(factory_of)]
NowDep = Annotated[datetime, Depends(get_now)]
AgentDep = Annotated[Principal, Depends(agent_principal)]
ReaderDep = Annotated[Principal, Depends(reader_principal)]
