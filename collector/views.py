"""The NOC's read models: what the API returns, as typed records with RFC 3339 UTC times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import BaseModel, PlainSerializer, TypeAdapter

from portacare.checks import format_time

__all__ = [
    "UtcTime",
    "HostView",
    "CheckView",
    "ResultView",
    "EscalationView",
    "TicketView",
    "TimelineEntry",
    "TicketDetail",
]

UtcTime = Annotated[datetime, PlainSerializer(format_time, return_type=str)]


class HostView(BaseModel):
    host: str
    customer: str | None
    last_seen: UtcTime | None
    status: str
    silent: bool
    dropped_results: dict[str, dict[str, object]] = {}


class CheckView(BaseModel):
    check: str
    status: str
    summary: str
    observed_at: UtcTime
    since: UtcTime
    stale: bool = False


class ResultView(BaseModel):
    status: str
    summary: str
    observed_at: UtcTime
    metrics: dict[str, float]


class EscalationView(BaseModel):
    role: str
    due_at: UtcTime
    notified_at: UtcTime | None


class TicketView(BaseModel):
    number: int
    host: str
    customer: str | None
    check: str
    summary: str
    check_status: str
    priority: int
    rt_priority: int
    state: str
    flapping: bool
    opened_at: UtcTime
    first_response_due: UtcTime
    first_response_at: UtcTime | None
    next_update_due: UtcTime | None
    resolved_at: UtcTime | None
    escalations: list[EscalationView]


class TimelineEntry(BaseModel):
    at: UtcTime
    kind: str
    actor: str
    message: str


class TicketDetail(TicketView):
    timeline: list[TimelineEntry]


HOST_LIST = TypeAdapter(list[HostView])
TICKET_LIST = TypeAdapter(list[TicketView])


def json_list(adapter: TypeAdapter[Any], views: list[Any]) -> Response:
    """A long list as JSON in one pass.

    The views are built from the database and already valid; answering with a
    ready Response spares FastAPI validating ten thousand of them a second time.
    """
    return Response(adapter.dump_json(views), media_type="application/json")


PAGED = 'a page; a `Link: <...>; rel="next"` header (RFC 8288) names the next while there is one'


def paged(request: Request, response: Response, next_after: str | None) -> Response:
    """Add the next page's address to a list response, as ``after=`` on the same query."""
    if next_after is not None:
        url = request.url.include_query_params(after=next_after)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return response
