"""The NOC's view of hosts and their checks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from .. import queries
from ..views import HOST_LIST, CheckView, HostView, ResultView, json_list
from .deps import AUTH_RESPONSES, NOT_FOUND, NowDep, ReaderDep, SessionDep

router = APIRouter(prefix="/api/v1/hosts", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND})


@router.get("", response_model=list[HostView])
def list_hosts(_: ReaderDep, session: SessionDep, now: NowDep) -> Response:
    """Every host with its worst current status and whether it has gone silent."""
    return json_list(HOST_LIST, queries.list_hosts(session, now))


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
