"""``GET /v1/conversations/{id}/print``: the whole conversation as printable HTML, with
its images inline, times in the firm's time zone and every delivery status."""
from __future__ import annotations

from typing import TYPE_CHECKING

from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, StreamingResponse

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.openapi import refusals
from adapters.http.routes_conversations import parse_id
from adapters.http.views import conversation_view
from adapters.render.transcript import transcript_chunks

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["texting"])
# Bodies are escaped; the policy is a second wall: no script, no remote loads, data: images only.
PRINT_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"}


class StoredImages:
    """Decrypts one attachment when the transcript reaches it, so a long conversation
    full of photos never holds them all in memory at once."""

    def __init__(self, media_store, conversation_id: UUID) -> None:
        self.media_store, self.conversation_id = media_store, conversation_id

    def get(self, media_id: str) -> bytes | None:
        return self.media_store.get(self.conversation_id, media_id)


@router.get("/conversations/{conversation_id}/print", response_class=HTMLResponse, responses=refusals(404))
def print_conversation(conversation_id: str, who: Caller = Depends(texting_user),
                       c: Container = Depends(container)):
    """A printable transcript of every message (not a page), for the firm's records."""
    conv = c.texting.conversation(who.firm_id, parse_id(conversation_id))
    firm = c.texting.firm(who.firm_id)
    firm_facts = {"name": getattr(firm, "name", None), "number": getattr(firm, "number", None),
                  "time_zone": getattr(firm, "time_zone", None)}
    view = conversation_view(conv, who.user_id, c.reads)
    messages, _ = c.reads.messages(who.firm_id, str(conv.id), None, None)
    users = {user_id: row["name"] for user_id, row in c.reads.user_directory(who.firm_id).items()}
    chunks = transcript_chunks(firm_facts, view, messages, users, StoredImages(c.media_store, conv.id),
                               message_count=len(messages))
    return StreamingResponse(chunks, media_type="text/html; charset=utf-8", headers=PRINT_HEADERS)
