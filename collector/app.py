"""The collector's FastAPI application, built by a factory from settings.

    app = create_app(load_settings(path, os.environ))

The factory brings the schema up to date (Alembic) unless told not to, so a
fresh database works on the first ``serve``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from portacare import __version__
from portacare.checks import utc_now

from .api import customers, hosts, results, silences, ticket_actions, tickets
from .api.results_door import ResultsDoor
from .background import BackgroundJobs
from .dashboard import router as dashboard_router
from .db import make_engine, make_sessionmaker
from .errors import Conflict, InvalidRequest, NotFound, Unavailable
from .heap import settle_for_serving
from .loop_commit import LoopIngest
from .schema import upgrade_schema
from .settings import Settings, load_settings
from .throttle import FailureThrottle
from .tokens import PrincipalCache
from .wire import openapi_components

__all__ = ["create_app", "worker_app", "WORKER_CONFIG_ENV"]

#: ``serve --workers``: the configuration file every worker process builds its app from
WORKER_CONFIG_ENV = "PORTACARE_WORKER_CONFIG"


def worker_app() -> FastAPI:
    """One worker's app for ``serve --workers``: the serve's settings, schema already current.

    uvicorn starts each worker as a new interpreter that calls this factory; the
    configuration file comes through :data:`WORKER_CONFIG_ENV`, the rest of the
    settings from the environment, as for ``serve`` itself.
    """
    path = os.environ.get(WORKER_CONFIG_ENV)
    app = create_app(load_settings(Path(path) if path else None, os.environ), migrate=False)
    settle_for_serving()  # a serving process: see heap.py
    return app


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """A collector app on ``settings.database_url``."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade_schema(engine)
    sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs = BackgroundJobs(sessions, settings, clock)
        jobs.start()
        yield
        jobs.stop()
        app.state.ingest.close()
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="PortaCare collector",
        version=__version__,
        description="Receives agents' check results; serves the NOC its hosts and tickets.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.auth_throttle = FailureThrottle(settings.auth_failures_per_minute)
    app.state.principal_cache = PrincipalCache()
    app.state.ingest = LoopIngest(sessions, settings)
    for module in (results, hosts, tickets, ticket_actions, silences, customers):
        app.include_router(module.router)
    app.include_router(dashboard_router)
    app.add_middleware(ResultsDoor, fastapi=app)  # the agents' door, past routing layers
    _install_error_handlers(app)
    _document_wire_contract(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _document_wire_contract(app: FastAPI) -> None:
    """Put the results body's schema into the OpenAPI document.

    The route reads its body itself (to refuse oversized bodies before parsing) and
    decodes it with msgspec (``wire``), so FastAPI sees no model of it; the document
    must still describe the body and the answer.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(openapi_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    def answer(code: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=code, headers=headers or None)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return answer(404, str(exc))

    @app.exception_handler(InvalidRequest)
    async def invalid(_: Request, exc: InvalidRequest) -> JSONResponse:
        # the shape of FastAPI's own validation errors, so clients parse one form
        detail = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return answer(409, str(exc))

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return answer(503, str(exc), **{"Retry-After": "5"})

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        return answer(503, f"database unavailable: {exc.orig}", **{"Retry-After": "5"})
