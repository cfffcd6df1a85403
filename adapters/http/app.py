"""The HTTP API: FastAPI application factory. Nothing connects until the first request."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from adapters.http import (errors, openapi, routes_app, routes_consent, routes_conversations, routes_directory,
                           routes_live, routes_me, routes_media, routes_notifications, routes_ops, routes_print,
                           routes_webhooks)
from adapters.http.body_limit import BodyLimit
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
    app.add_middleware(BodyLimit)  # the size cap comes before any parsing (docs/input-policy.md)
    for module in (routes_ops, routes_webhooks, routes_directory, routes_conversations, routes_consent,
                   routes_media, routes_print, routes_notifications, routes_me, routes_live, routes_app):
        app.include_router(module.router)

    app.add_middleware(MeasuredRequests, metrics=lambda: container.metrics)  # outermost: it times the size cap too

    @app.on_event("shutdown")
    def close() -> None:
        container.close()

    return app
