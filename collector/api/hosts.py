"""The NOC's view of hosts and their checks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from portacare.checks import Status

from .. import queries
from ..views import HOST_LIST, PAGED, CheckView, HostView, ResultView, json_list, paged
from .deps import AUTH_RESPONSES, NOT_FOUND, NowDep, ReaderDep, SessionDep

router = APIRouter(prefix="/api/v1/hosts", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND})


@router.get(
    "",
    response_model=list[HostView],
    responses={200: {"description": PAGED}},
)
def list_hosts(
    request: Request,
    _: ReaderDep,
    session: SessionDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=5000, description="hosts per page")] = 500,
    after: Annotated[
        str | None, Query(max_length=253, description="the last host name of the previous page")
    ] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[
        list[Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]] | None,
        Query(description="only hosts showing one of these statuses (repeatable)"),
    ] = None,
) -> Response:
    """Hosts by name with their worst current status and whether they have gone silent.

    Paged by name (``limit``, ``after``); the ``Link`` header names the next page,
    as RFC 8288 has it. ``status=CRITICAL&status=WARNING&status=UNKNOWN`` is the
    NOC's "what is wrong now" at any fleet size.
    """
    page = queries.list_hosts(
        session,
        now,
        limit=limit,
        after=after,
        customer=customer,
        statuses=frozenset(Status[s] for s in status or ()),
        rules=request.app.state.settings.tickets,
    )
    return paged(request, json_list(HOST_LIST, page.hosts), page.next_after)


@router.get("/{host}/checks", response_model=list[CheckView])
def host_checks(host: str, _: ReaderDep, session: SessionDep, now: NowDep) -> list[CheckView]:
    """The latest state of each check on ``host``; a check gone quiet shows UNKNOWN (stale)."""
    return queries.host_checks(session, host, now)


@router.get("/{host}/checks/{check}/results", response_model=list[ResultView])
def check_results(
    host: str,
    check: str,
    _: ReaderDep,
    session: SessionDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> list[ResultView]:
    """That check's history, newest first."""
    return queries.check_results(session, host, check, since, limit)
