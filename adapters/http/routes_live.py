"""``GET /v1/inbox/stream``: Server-Sent Events telling a texting user's open page that
their firm's inbox or messages changed, so it re-reads the first inbox page and the
open thread instead of polling.

A frame says only *that* something changed (``event: inbox``, ``data: {}``), never
what: the page then asks the ordinary endpoints, which apply every permission and
per-user rule. Streams are woken per firm (see event_stream.py), so one firm's traffic
never wakes, slows or informs another firm's pages.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.event_stream import bell_of, comment_frame, retry_frame

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["texting"])
HEARTBEAT_SECONDS = 15.0
# A burst of commits (a flood of status callbacks) becomes one frame per quarter second.
COALESCE_SECONDS = 0.25
RETRY_MS = 3000
CHANGED = "event: inbox\ndata: {}\n\n"


@router.get("/inbox/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}})
async def inbox_changes(request: Request, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """``event: inbox`` whenever the caller's firm's conversations or messages change.
    Authenticate with the bearer header (the web page reads it with ``fetch``)."""
    bell = bell_of(request.app, c.database_url)
    return StreamingResponse(_frames(bell, who.firm_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _frames(bell, firm_id: str):
    """Frames until the server shuts down; a client disconnect cancels this generator."""
    wake = bell.subscribe(firm_id)
    try:
        yield retry_frame(RETRY_MS)
        while not bell.stopping:
            try:
                await asyncio.wait_for(wake.wait(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield comment_frame("heartbeat")
                continue
            if bell.stopping:
                break
            await asyncio.sleep(COALESCE_SECONDS)
            wake.clear()  # after the pause: commits during it are covered by this frame
            yield CHANGED
    finally:
        bell.unsubscribe(wake)
