"""The one place where failures become the contract's error shape:
``{"error": {"code": ..., "message": ...}}`` with the right status, never a stack trace."""
from __future__ import annotations

import logging

import psycopg
from eventsourcing.persistence import OperationalError as StoreUnavailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from adapters.auth import Unauthenticated
from adapters.phone import InvalidPhone
from domain.errors import (Blocked, Conflict, DomainError, EventTooLarge, InvalidBody, InvalidInput,
                           MediaNotSupported, NotFound, NumberTaken, OptedOut)

log = logging.getLogger("firmtext.api")

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid_request", 429: "rate_limited", 503: "unavailable"}


# How each domain refusal is answered over HTTP: decided here, once, not in the domain.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404, OptedOut: 409, Blocked: 409, NumberTaken: 409, Conflict: 409,
    InvalidBody: 422, MediaNotSupported: 422, InvalidInput: 422, EventTooLarge: 413,
}


def domain_status(exc: DomainError) -> int:
    """The HTTP status of a domain refusal (its nearest mapped class; 400 otherwise)."""
    return next((DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS), 400)


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, permissions, input shape)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "The request is not valid. " + "; ".join(parts)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110's ``Allow``). Starlette's own
    header names only the first route that matched the path, not its siblings (PUT and DELETE
    of one contact are two routes)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):  # included routers' routes too
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            methods |= set(route_methods)
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register every exception handler on ``app``."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        return error_response(domain_status(exc), exc.code, exc.message)

    @app.exception_handler(InvalidPhone)
    async def invalid_phone(request: Request, exc: InvalidPhone):
        return error_response(422, "invalid_phone", str(exc) or "That is not a valid phone number.")

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated):
        return error_response(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error_response(422, "invalid_request", _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; use {' or '.join(allowed)}."
        return error_response(exc.status_code, code, message, headers or None)

    # PostgreSQL down or restarting (the connection dropped, or none to be had from the
    # pool): nothing was acknowledged, so the client may retry: 503, never 500. The
    # carrier retries a webhook with the same MessageSid, which records one message.
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(StoreUnavailable)
    async def database_unavailable(request: Request, exc: Exception):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(503, "unavailable", "The database is not reachable right now; retry shortly.",
                              {"Retry-After": "1"})

    # The client hung up while its body was still arriving (a carrier timeout, a killed
    # load balancer): nothing was read, so nothing was done, and nobody hears an answer.
    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect):
        log.info("client went away during %s %s before its request was read", request.method, request.url.path)
        return error_response(400, "client_disconnected", "The request ended before its body was complete.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal", "Something went wrong on our side; nothing was half-done.")
