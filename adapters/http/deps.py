"""Request-scoped dependencies: the container, the authenticated caller, permissions.

All ``async def`` though none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request for a few microseconds of work
(under load about a tenth of the API's CPU: issue 11)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Request

from adapters.auth import Caller, Unauthenticated, caller_from_token
from adapters.http.errors import ApiError

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container


async def container(request: Request) -> Container:
    return request.app.state.container


async def caller(request: Request) -> Caller:
    return bearer_caller(request)


def bearer_caller(request: Request) -> Caller:
    """The caller the bearer header proves (plain: also for callers outside ``Depends``)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send a bearer token: Authorization: Bearer <JWT>.")
    return caller_from_token(request.app.state.container.settings.jwt_secret, token.strip())


async def texting_user(who: Caller = Depends(caller)) -> Caller:
    return with_texting(who)


def with_texting(who: Caller) -> Caller:
    """The "Add/Edit Text Messaging" permission: read and send texts."""
    if "texting" not in who.perms:
        raise ApiError(403, "forbidden", "You need the texting permission to read or send texts.")
    return who


async def admin(who: Caller = Depends(caller)) -> Caller:
    """The host platform's service account."""
    if "admin" not in who.perms:
        raise ApiError(403, "forbidden", "Only the host platform's service account (admin) may sync.")
    return who
