"""The carrier's busiest webhooks served without Starlette's router and FastAPI's request
handling (issue 11: those layers were about a tenth of the API's CPU per inbound text).

:class:`DirectRoutes` is plain ASGI middleware, inside the size cap and the request
metrics. A request whose method and path are exactly those of one of its routes is handed
straight to that route's endpoint, the same function FastAPI would call, with a Starlette
``Request``; its exceptions go to the same handlers the app registered (adapters/http/errors.py),
looked up the way Starlette does. Everything else, and every route whose endpoint needs
more than the request (a dependency, a path parameter), goes through FastAPI as before.
The OpenAPI document is unchanged: the routes are still FastAPI's.
"""
from __future__ import annotations

import inspect
from typing import Iterable

from fastapi.routing import RouteContext
from starlette.requests import Request
from starlette.responses import Response


def serves_directly(route: RouteContext) -> bool:
    """True when the endpoint takes only the request: nothing FastAPI would have to solve."""
    params = list(inspect.signature(route.endpoint).parameters.values())
    return (inspect.iscoroutinefunction(route.endpoint) and len(params) == 1
            and params[0].annotation in (Request, "Request") and not route.dependencies
            and "{" not in route.path)


def handler_for(handlers: dict, exc: Exception):
    """The handler registered for ``exc``'s nearest class, as Starlette picks it."""
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)


class DirectRoutes:
    """ASGI middleware: ``routes`` (FastAPI routes whose endpoint takes only the request)
    answered directly; anything else passed on to ``app``."""

    def __init__(self, app, routes: Iterable[RouteContext]) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], RouteContext] = {}
        for route in routes:
            if not serves_directly(route):
                raise ValueError(f"{route.path} needs FastAPI to call its endpoint")
            for method in route.methods:
                self.routes[(method, route.path)] = route

    async def __call__(self, scope, receive, send):
        route = None
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.routes.get((scope["method"], scope["path"]))
        if route is None:
            return await self.app(scope, receive, send)
        scope["route"] = route  # the request metrics label by it, as for routed requests
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
            if not isinstance(response, Response):  # FastAPI would serialise it; we do not
                raise TypeError(f"{route.path} must answer with a Response to be served directly")
        except Exception as exc:  # noqa: BLE001 - answered by the app's own handler, as routed requests are
            handler = handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
