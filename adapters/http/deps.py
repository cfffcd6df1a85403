"""Request-scoped dependencies: the container, the authenticated caller, permissions."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Request

from adapters.auth import Caller, Unauthenticated, caller_from_token
from adapters.http.errors import ApiError

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container


def container(request: Request) -> Container:
    return request.app.state.container


def caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send a bearer token: Authorization: Bearer <JWT>.")
    return caller_from_token(request.app.state.container.settings.jwt_secret, token.strip())


def texting_user(who: Caller = Depends(caller)) -> Caller:
    """The "Add/Edit Text Messaging" permission: read and send texts."""
    if "texting" not in who.perms:
        raise ApiError(403, "forbidden", "You need the texting permission to read or send texts.")
    return who


def admin(who: Caller = Depends(caller)) -> Caller:
    """The host platform's service account."""
    if "admin" not in who.perms:
        raise ApiError(403, "forbidden", "Only the host platform's service account (admin) may sync.")
    return who
