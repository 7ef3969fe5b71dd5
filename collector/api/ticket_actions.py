"""Lifecycle actions on a ticket, recorded with the token holder as who and the message as why."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from portacare.sla import Priority

from .. import queries
from ..db import transaction
from ..tickets import apply_action
from ..views import TicketDetail
from .deps import AUTH_RESPONSES, NOT_FOUND, FactoryDep, NowDep, ReaderDep, RowId

router = APIRouter(
    prefix="/api/v1/tickets", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND}
)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the ticket's state does not allow this"}
}


class ActionIn(BaseModel):
    message: str = Field(min_length=1, max_length=10000, description="why, for the timeline")


class PriorityIn(ActionIn):
    priority: int = Field(ge=1, le=4)


def _act(
    request: Request,
    factory: FactoryDep,
    number: RowId,
    action: str,
    body: ActionIn,
    who: str,
    now: datetime,
    priority: Priority | None = None,
) -> TicketDetail:
    settings = request.app.state.settings
    with transaction(factory) as session:
        apply_action(session, settings, number, action, body.message, who, now, priority)
    with factory() as session:
        return queries.ticket_detail(session, number)


def _route(
    action: Literal["respond", "update", "resolve", "close", "reopen"], summary: str
) -> None:
    def handler(
        number: RowId,
        body: ActionIn,
        request: Request,
        who: ReaderDep,
        factory: FactoryDep,
        now: NowDep,
    ) -> TicketDetail:
        return _act(request, factory, number, action, body, who.name, now)

    handler.__name__ = f"{action}_ticket"
    handler.__doc__ = summary
    router.post(f"/{{number}}/{action}", response_model=TicketDetail, responses=_CONFLICT)(handler)


_route("respond", "Record the first response to the customer (open -> responded).")
_route("update", "Record a customer update; the next one falls due a cadence later.")
_route("resolve", "Resolve the ticket (no more updates or escalations).")
_route("close", "Close a resolved ticket.")
_route("reopen", "Reopen a resolved ticket; its escalation ladder runs again from now.")


@router.post("/{number}/priority", response_model=TicketDetail, responses=_CONFLICT)
def change_ticket_priority(
    number: RowId,
    body: PriorityIn,
    request: Request,
    who: ReaderDep,
    factory: FactoryDep,
    now: NowDep,
) -> TicketDetail:
    """Raise or lower the priority; every due time and the ladder are recomputed."""
    return _act(request, factory, number, "priority", body, who.name, now, Priority(body.priority))
