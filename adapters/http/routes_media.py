"""``GET /v1/media/{media_id}``: an inbound MMS image, decrypted for a texting user of
its firm. Anything else (another firm's, unknown, blocked and shredded) is a 404."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.openapi import refusals
from adapters.media_store import MEDIA_ID
from domain.errors import NotFound

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["texting"])
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}
# Decrypted client photos must not linger in shared caches, nor be re-interpreted.
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def locate(c: Container, firm_id: str, media_id: str) -> tuple[str, str] | None:
    """(conversation id, content type) of the firm's attachment, or None."""
    if not MEDIA_ID.fullmatch(media_id):
        return None
    with c.pool.connection() as conn:
        row = conn.execute("SELECT conversation_id, content_type FROM media_objects "
                           "WHERE media_id = %s AND firm_id = %s", (media_id, firm_id)).fetchone()
    return (str(row[0]), row[1]) if row else None


@router.get("/media/{media_id}", response_class=Response, responses={
    **refusals(404), 200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in _EXTENSIONS},
                           "description": "The image."}})
def get_media(media_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The image bytes with their (sniffed) content type."""
    found = locate(c, who.firm_id, media_id)
    data = c.media_store.get(found[0], media_id) if found else None
    if data is None:
        raise NotFound("No such image.")
    content_type = found[1]
    filename = f"{media_id}.{_EXTENSIONS.get(content_type, 'bin')}"
    return Response(data, media_type=content_type,
                    headers={**PRIVATE_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'})
