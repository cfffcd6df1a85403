"""The HTTP API: FastAPI application factory. Nothing connects until the first request."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from adapters.http import (errors, openapi, routes_app, routes_consent, routes_conversations, routes_directory,
                           routes_live, routes_me, routes_media, routes_notifications, routes_ops, routes_print,
                           routes_webhooks)
from adapters.http.body_limit import BodyLimit
from adapters.http.direct_routes import DirectRoutes
from adapters.http.metrics import MeasuredRequests

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="firmtext", version="1", openapi_url="/openapi.json", docs_url="/docs",
                  description="Two-way SMS/MMS texting between law firms and their clients. "
                              "Contract: shared/API.md; events: docs/events.md.")
    app.state.container = container
    errors.install(app)
    openapi.install(app)
    for module in (routes_ops, routes_webhooks, routes_directory, routes_conversations, routes_consent,
                   routes_media, routes_print, routes_notifications, routes_me, routes_live, routes_app):
        app.include_router(module.router)
    # Inside the size cap and the metrics: the carrier's two busiest webhooks skip the router.
    direct = [r for r in iter_route_contexts(app.router.routes) if getattr(r, "endpoint", None)
              in routes_webhooks.DIRECT]
    if len(direct) != len(routes_webhooks.DIRECT):  # FastAPI keeps included routes its own way
        raise RuntimeError("the carrier webhooks' routes were not found for DirectRoutes")
    app.add_middleware(DirectRoutes, routes=direct)
    app.add_middleware(BodyLimit)  # the size cap comes before any parsing (docs/input-policy.md)

    app.add_middleware(MeasuredRequests, metrics=lambda: container.metrics)  # outermost: it times the size cap too

    @app.on_event("shutdown")
    def close() -> None:
        container.close()

    return app
