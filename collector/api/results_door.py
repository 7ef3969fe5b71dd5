"""The agents' door taken straight from the ASGI server, past FastAPI's routing layers.

``POST /api/v1/results`` is the collector's busiest route by far, and every request
of it paid for Starlette's exception middleware, the router's matching, FastAPI's
dependency solving and its exit stack before reaching :func:`results.post_results`,
which needs none of them: it reads its own body, checks its own token and encodes
its own answer. This middleware calls that same function for that one route, and
answers its errors through the app's own exception handlers (``HTTPException`` as
FastAPI does, ``Unavailable`` and a lost database as 503), so the route behaves exactly as
documented whichever way a request arrives; every other request goes on to FastAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .results import RESULTS_PATH, post_results

__all__ = ["ResultsDoor"]


class ResultsDoor:
    """ASGI middleware: ``POST`` on the results path goes to ``post_results`` directly."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != RESULTS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["app"] = self.fastapi  # what Request.app reads, as the router would set it
        request = Request(scope, receive)
        try:
            response = await post_results(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # ServerErrorMiddleware outside answers 500, as for any route
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        handlers = self.fastapi.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]
        return None
