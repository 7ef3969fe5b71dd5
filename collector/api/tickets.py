"""The NOC's ticket queue and each ticket with its timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from .. import queries
from ..errors import InvalidRequest
from ..views import PAGED, TICKET_LIST, TicketDetail, TicketView, json_list, paged
from .deps import AUTH_RESPONSES, NOT_FOUND, ReaderDep, RowId, SessionDep

router = APIRouter(
    prefix="/api/v1/tickets", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND}
)

TicketState = Literal["open", "responded", "resolved", "closed"]


@router.get(
    "",
    response_model=list[TicketView],
    responses={200: {"description": PAGED}},
)
def list_tickets(
    request: Request,
    _: ReaderDep,
    session: SessionDep,
    state: TicketState | None = None,
    host: str | None = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="tickets per page")] = 100,
    after: Annotated[
        str | None,
        Query(max_length=80, description="the queue position the previous page ended at"),
    ] = None,
) -> Response:
    """Tickets, the nearest first-response deadline first, a page at a time."""
    try:
        position = None if after is None else queries.parse_ticket_cursor(after)
    except ValueError as exc:
        raise InvalidRequest(f"after: {exc}") from exc
    page = queries.list_tickets(session, state, host, priority, limit, position)
    return paged(request, json_list(TICKET_LIST, page.tickets), page.next_after)


@router.get("/{number}", response_model=TicketDetail)
def ticket_detail(number: RowId, _: ReaderDep, session: SessionDep) -> TicketDetail:
    """One ticket with its whole timeline."""
    return queries.ticket_detail(session, number)
