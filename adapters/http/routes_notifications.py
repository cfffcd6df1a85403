"""Notifications for firm staff (permission ``texting``): the in-app bell list, marking
it seen, and a Server-Sent Events stream of desktop notifications.

Who is notified of what is decided by the notification-triggers projection
(projections/notifications.py; the rules for people are in docs/inbox.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import re

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from adapters.auth import Caller, caller_from_token
from adapters.http.deps import bearer_caller, container, texting_user, with_texting
from adapters.http.errors import ApiError
from adapters.http.event_stream import bell_of, comment_frame, event_frame, retry_frame
from adapters.http.idempotency import run_idempotently
from adapters.http.notification_feed import NotificationFeed
from adapters.http.openapi import refusals
from adapters.http.paging import Cursors, clamp_limit
from adapters.http.routes_conversations import json_object
from domain import use_cases_directory as directory

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["notifications"])
POLL_SECONDS = 2.0  # a NOTIFY can be missed (listener reconnecting): look anyway this often
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000
BATCH = 100


@router.get("/notifications")
def list_notifications(unseen_only: bool = False, limit: int | None = Query(None), cursor: str | None = None,
                       who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The caller's in-app notifications, newest first, with the count not yet seen."""
    cursors = Cursors(c.settings.jwt_secret, who.firm_id, "notifications")
    after = cursors.read(cursor, int)
    items, more, unseen = NotificationFeed(c.reads).page(who.firm_id, who.user_id, unseen_only, clamp_limit(limit),
                                                         after[0] if after else None)
    return {"notifications": items, "unseen": unseen,
            "next_cursor": cursors.issue(items[-1]["seq"]) if more and items else None}


@router.post("/notifications/seen", responses=refusals(404, 409))
async def see_notifications(request: Request, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """Mark the caller's notifications seen up to ``up_to`` (a ``seq``; default: the newest)."""
    payload, raw = await json_object(request)
    up_to = payload.get("up_to")
    if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 0):
        raise ApiError(422, "invalid_request", "up_to must be the seq of a notification (a whole number).")

    def act(uow):
        feed = NotificationFeed(c.reads)
        newest = feed.newest(who.firm_id, who.user_id, "in_app")
        # Never beyond the newest row: a too-large mark would hide notifications not yet written.
        mark = newest if up_to is None else min(up_to, newest)
        seen = feed.seen_up_to(who.firm_id, who.user_id)
        if seen is None or mark > seen:
            directory.see_notifications(uow, who.firm_id, who.user_id, mark)  # NotFound if never synced
        mark = max(mark, seen or 0)
        return 200, {"seen_up_to": mark, "unseen": feed.unseen_count(who.firm_id, who.user_id, mark)}

    return await c.run_sync(run_idempotently, c, who, request, raw, act)


def stream_caller(request: Request, access_token: str | None = Query(
        None, description="Only for EventSource, which cannot send headers: a short-lived bearer token.")) -> Caller:
    """The bearer header as everywhere; or ``?access_token=`` (this endpoint only)."""
    if access_token and not request.headers.get("authorization"):
        return with_texting(caller_from_token(request.app.state.container.settings.jwt_secret, access_token))
    return with_texting(bearer_caller(request))


_SEQ = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is True); below 2**63


def _last_event_id(raw: str | None) -> int | None:
    """The seq a reconnecting client last got, or None. Anything that is not a seq this
    stream could have sent is a 422 (docs/input-policy.md): EventSource then stops
    instead of reconnecting in a loop with the same bad id."""
    if raw is None or not raw.strip():
        return None
    if not _SEQ.fullmatch(raw.strip()):
        raise _not_ours()
    return int(raw.strip())


def _not_ours() -> ApiError:
    return ApiError(422, "invalid_cursor", "Last-Event-ID must be an id this stream sent.")


@router.get("/notifications/stream", response_class=StreamingResponse,
            responses=refusals(ok=(200, "text/event-stream", "Server-Sent Events.")))
async def stream_notifications(request: Request, last_event_id: str | None = Header(None),
                               who: Caller = Depends(stream_caller), c: Container = Depends(container)):
    """Desktop notifications as they happen: ``id:`` seq, ``event: notification``,
    ``data:`` a list item. After a drop, reconnect with ``Last-Event-ID`` to get the
    missed ones; without it only new ones come."""
    feed = NotificationFeed(c.reads)
    after = _last_event_id(last_event_id)
    newest = await c.run_sync(feed.newest, who.firm_id, who.user_id, "desktop")
    if after is not None and after > newest:
        raise _not_ours()  # no id above the newest row was ever sent: a stream after it would wait forever
    after = newest if after is None else after
    frames = _desktop_frames(feed, c, who, after, bell_of(request.app, c.database_url))
    return StreamingResponse(frames, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _desktop_frames(feed: NotificationFeed, c: Container, who: Caller, after: int, bell):
    """Frames until the server shuts down; a client disconnect cancels this generator."""
    wake = bell.subscribe(who.firm_id)
    loop = asyncio.get_running_loop()
    try:
        yield retry_frame(RETRY_MS)  # sent at once, so the client knows it is connected
        quiet_since = loop.time()
        while not bell.stopping:
            wake.clear()  # before the query: a NOTIFY arriving during it wakes the next wait
            items = await c.run_sync(feed.desktop_after, who.firm_id, who.user_id, after, BATCH)
            for item in items:
                after = item["seq"]
                yield event_frame(after, "notification", item)
            if items:
                quiet_since = loop.time()
                if len(items) == BATCH:
                    continue
            elif loop.time() - quiet_since >= HEARTBEAT_SECONDS:
                yield comment_frame("heartbeat")
                quiet_since = loop.time()
            try:
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
    finally:
        bell.unsubscribe(wake)
