"""Inbound MMS images for staff.

``GET /v1/media/{media_id}``: the image, decrypted for a texting user of its firm.
``GET /v1/media/{media_id}/signed?firm=&expires=&signature=``: the same image without a
bearer token, for ``<img src>`` and "open in a new tab" in the web inbox. Message
payloads carry such a short-lived URL per image (``media[].url``); the signature is an
HMAC over media id, firm and expiry under a key derived from ``FIRMTEXT_JWT_SECRET``,
so a link works only for its own firm's image and only until it expires.
Anything else (another firm's, unknown, blocked and shredded) is a 404.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.errors import ApiError
from adapters.http.openapi import refusals
from adapters.media_store import MEDIA_ID
from domain.errors import NotFound

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["texting"])
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}
# Decrypted client photos must not linger in shared caches, nor be re-interpreted.
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer"}
# Links live 10 to 15 minutes: expiry is rounded up to a 5-minute step so that the same
# image keeps the same URL across re-renders (the browser then reuses what it loaded).
LINK_SECONDS, LINK_STEP = 600, 300


@lru_cache(maxsize=8)
def _link_key(server_secret: str) -> bytes:
    """A key of its own for media links: a leaked link never helps forge a bearer token."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"firmtext signed media links v1").derive(server_secret.encode())


def _signature(server_secret: str, media_id: str, firm_id: str, expires: int) -> str:
    message = "\n".join((media_id, firm_id, str(expires))).encode()
    return hmac.new(_link_key(server_secret), message, hashlib.sha256).hexdigest()


def signed_path(server_secret: str, media_id: str, firm_id: str, now: float | None = None) -> str:
    """The bearer-free path of one of the firm's images, valid for 10 to 15 minutes."""
    now = time.time() if now is None else now
    expires = (int(now) + LINK_SECONDS + LINK_STEP - 1) // LINK_STEP * LINK_STEP
    query = urlencode({"firm": firm_id, "expires": expires,
                       "signature": _signature(server_secret, media_id, firm_id, expires)})
    return f"/v1/media/{media_id}/signed?{query}"


def with_links(server_secret: str, firm_id: str, messages: list[dict]) -> list[dict]:
    """Messages whose images carry ``url``: a signed path (one signature, no request, per image)."""
    for message in messages:
        for item in message.get("media") or ():
            item["url"] = signed_path(server_secret, item["id"], firm_id)
    return messages


def locate(c: Container, firm_id: str, media_id: str) -> tuple[str, str] | None:
    """(conversation id, content type) of the firm's attachment, or None."""
    if not MEDIA_ID.fullmatch(media_id):
        return None
    with c.pool.connection() as conn:
        row = conn.execute("SELECT conversation_id, content_type FROM media_objects "
                           "WHERE media_id = %s AND firm_id = %s", (media_id, firm_id)).fetchone()
    return (str(row[0]), row[1]) if row else None


def _image(c: Container, firm_id: str, media_id: str) -> Response:
    found = locate(c, firm_id, media_id)
    data = c.media_store.get(found[0], media_id) if found else None
    if data is None:
        raise NotFound("No such image.")
    content_type = found[1]
    filename = f"{media_id}.{_EXTENSIONS.get(content_type, 'bin')}"
    return Response(data, media_type=content_type,
                    headers={**PRIVATE_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'})


_IMAGE = {**refusals(404), 200: {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                             for t in _EXTENSIONS}, "description": "The image."}}


@router.get("/media/{media_id}", response_class=Response, responses=_IMAGE)
def get_media(media_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The image bytes with their (sniffed) content type."""
    return _image(c, who.firm_id, media_id)


@router.get("/media/{media_id}/signed", response_class=Response, responses={
    **_IMAGE, **refusals(403)})
def get_signed_media(media_id: str, firm: str = "", expires: int = 0, signature: str = "",
                     c: Container = Depends(container)):
    """The image bytes for a link from a message payload (``media[].url``); no bearer token."""
    wanted = _signature(c.settings.jwt_secret, media_id, firm, expires)
    # compare_digest takes ASCII only: anything else is not a signature we made.
    if not signature.isascii() or not hmac.compare_digest(wanted, signature):
        raise ApiError(403, "invalid_signature", "This image link is not valid.")
    if expires < time.time():
        raise ApiError(403, "link_expired", "This image link has expired: open the conversation again "
                                            "to get a fresh one.")
    return _image(c, firm, media_id)
