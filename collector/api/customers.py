"""Customers as configured: plan, business calendar, contacts and host patterns."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from .deps import AUTH_RESPONSES, NOT_FOUND, ReaderDep

router = APIRouter(
    prefix="/api/v1/customers", tags=["noc"], responses={**AUTH_RESPONSES, **NOT_FOUND}
)


class CustomerView(BaseModel):
    name: str
    plan: str
    hosts: list[str]
    contacts: list[str]
    calendar: dict[str, object]


@router.get("", response_model=list[CustomerView])
def list_customers(request: Request, _: ReaderDep) -> list[CustomerView]:
    """Every customer of the collector's configuration."""
    settings = request.app.state.settings
    views = []
    for name, customer in sorted(settings.customers.items()):
        calendar = settings.calendar_for(name)
        views.append(
            CustomerView(
                name=name,
                plan=customer.plan,
                hosts=customer.hosts,
                contacts=customer.contacts,
                calendar={
                    "timezone": calendar.timezone,
                    "working_days": sorted(calendar.working_days),
                    "hours": f"{calendar.opens:%H:%M}-{calendar.closes:%H:%M}",
                    "holidays_country": calendar.holidays_country,
                    "holidays_subdiv": calendar.holidays_subdiv,
                    "closed_dates": sorted(d.isoformat() for d in calendar.closed_dates),
                },
            )
        )
    return views
