"""The NOC's ticket queue and each ticket with its timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from .. import queries
from ..views import TICKET_LIST, TicketDetail, TicketView, json_list
from .deps import AUTH_RESPONSES, NOT_FOUND, ReaderDep, RowId, SessionDep

router = APIRouter(
    prefix="/api/v1/tickets", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND}
)

TicketState = Literal["open", "responded", "resolved", "closed"]


@router.get("", response_model=list[TicketView])
def list_tickets(
    _: ReaderDep,
    session: SessionDep,
    state: TicketState | None = None,
    host: str | None = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> Response:
    """Tickets, the nearest first-response deadline first."""
    return json_list(TICKET_LIST, queries.list_tickets(session, state, host, priority))


@router.get("/{number}", response_model=TicketDetail)
def ticket_detail(number: RowId, _: ReaderDep, session: SessionDep) -> TicketDetail:
    """One ticket with its whole timeline."""
    return queries.ticket_detail(session, number)
