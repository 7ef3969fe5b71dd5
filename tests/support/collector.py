"""An in-process collector for API tests: the real app on a real database, a settable clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from portacare.collector.app import create_app
from portacare.collector.db import transaction
from portacare.collector.settings import Settings
from portacare.collector.tokens import issue_agent_token, issue_role_token

from .databases import database_url, fresh_database_url  # noqa: F401  (re-exported fixture)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Collector:
    """A running app and the means to talk to it."""

    client: TestClient
    sessions: sessionmaker[Session]
    clock: Clock
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def agent_token(self, host: str, customer: str | None = None) -> str:
        if host not in self.tokens:
            with transaction(self.sessions) as session:
                self.tokens[host] = issue_agent_token(session, host, customer, self.clock())
        return self.tokens[host]

    def noc_token(self, name: str = "noc-alice") -> str:
        key = f"noc:{name}"
        if key not in self.tokens:
            with transaction(self.sessions) as session:
                self.tokens[key] = issue_role_token(session, "noc", name, self.clock())
        return self.tokens[key]

    def push(
        self,
        host: str,
        results: list[dict[str, Any]],
        batch_id: str | None = None,
        **agent: Any,
    ) -> Any:
        body = {
            "host": host,
            "batch_id": batch_id or uuid.uuid4().hex,
            "agent": {"version": "test", "interval_s": 60, **agent},
            "results": results,
        }
        return self.client.post(
            "/api/v1/results", json=body, headers=self.auth(self.agent_token(host))
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.auth(self.noc_token()))
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.auth(token or self.noc_token()))

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def result(
    check: str, status: str, summary: str = "", at: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    """One wire-format result."""
    moment = (at or T0).astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "check": check,
        "status": status,
        "summary": summary or f"{check} {status}",
        "observed_at": moment,
        **extra,
    }


def build_collector(url: str, **settings: Any) -> Iterator[Collector]:
    clock = Clock()
    config = Settings(database_url=url, sweep_in_serve=False, **settings)
    app = create_app(config, clock=clock)
    with TestClient(app) as client:
        yield Collector(client, app.state.sessions, clock, config)
    app.state.engine.dispose()


@pytest.fixture
def collector(database_url: str) -> Iterator[Collector]:  # noqa: F811
    """A collector on a fresh database, once on SQLite and once on PostgreSQL."""
    yield from build_collector(database_url)


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[Collector]:
    """A collector on a fresh PostgreSQL database only, for what only PostgreSQL does."""
    urls = fresh_database_url("postgresql", tmp_path)
    yield from build_collector(next(urls))
    next(urls, None)


CONTACTS = {
    "on_duty": ["duty@vendor.example"],
    "technical_support_manager": ["tsm@vendor.example"],
    "customer_relations_manager": ["crm@vendor.example"],
    "cto": ["cto@vendor.example"],
}
CUSTOMERS = {"acme": {"hosts": ["*.acme.example"], "contacts": ["noc@acme.example"]}}


@pytest.fixture
def staffed(database_url: str) -> Iterator[Collector]:  # noqa: F811
    """A collector with contacts for every role and one customer, acme (hosts *.acme.example)."""
    yield from build_collector(database_url, contacts=CONTACTS, customers=CUSTOMERS)


def outbox(c: Collector) -> list[tuple[str, str]]:
    """(kind, recipient) of every notification written so far, in order."""
    from sqlalchemy import select

    from portacare.collector.models import Outbox

    with c.sessions() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id))
        return [(row.kind, row.recipient) for row in rows]


def walk_pages(c: Collector, path: str) -> tuple[list[list[Any]], Any]:
    """Every page of a paged list (following ``Link: <...>; rel="next"``): (pages, last response).

    A page is the list of its items' ``host`` (host list) or ``number`` (ticket queue).
    """
    import re

    pages: list[list[Any]] = []
    last = None
    next_path: str | None = path
    while next_path:
        last = c.client.get(next_path, headers=c.auth(c.noc_token()))
        assert last.status_code == 200, last.text
        pages.append(
            [item.get("host") if "number" not in item else item["number"] for item in last.json()]
        )
        link = re.match(r'<([^>]+)>; rel="next"', last.headers.get("link", ""))
        next_path = link.group(1) if link else None
    return pages, last


def sweep(c: Collector, at: datetime | None = None) -> Any:
    from portacare.collector.sweep import run_sweep

    return run_sweep(c.sessions, c.settings, at or c.clock())
