"""Texting endpoints for firm staff (permission ``texting``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import json
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.errors import ApiError
from adapters.http.idempotency import run_idempotently
from adapters.http.openapi import EXISTING, refusals
from adapters.http.paging import Cursors, clamp_limit
from adapters.http.routes_media import with_links
from adapters.http.views import conversation_view
from adapters.phone import to_e164
from domain.errors import MediaNotSupported, NotFound
from domain.ids import contact_id_of
from domain.input_policy import is_id
from domain.texting import conversation_scope
from domain.use_cases_conversation import open_conversation, request_outbound
from domain.use_cases_directory import directory_scope

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["texting"])


def parse_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound("No such conversation.") from None


async def json_object(request: Request) -> tuple[dict, bytes]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if raw and ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send JSON (Content-Type: application/json).")
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_request", "The request body must be a JSON object.")
    return payload, raw


@router.get("/inbox")
def inbox(unread_only: bool = False, limit: int | None = Query(None), cursor: str | None = None,
          who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The caller's inbox: not left by the caller, not archived; newest activity first."""
    cursors = Cursors(c.settings.jwt_secret, who.firm_id, "inbox")
    items, more = c.reads.inbox(who.firm_id, who.user_id, unread_only, clamp_limit(limit),
                                cursors.read(cursor, str, str))
    last = items[-1] if items else None
    return {"conversations": items,
            "next_cursor": cursors.issue(last["last_activity_at"], last["id"]) if more and last else None}


@router.post("/conversations", status_code=201, responses={**refusals(404, 409), 200: EXISTING})
async def compose(request: Request, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """Open the conversation with a contact's number or a raw number (201 new, 200 existing)."""
    payload, raw = await json_object(request)

    def act(uow):
        phone = payload.get("phone")
        if payload.get("contact_id") is not None:
            if not is_id(payload["contact_id"]):
                raise ApiError(422, "invalid_request", "contact_id must be a contact's id.")
            contact = uow.get(contact_id_of(who.firm_id, payload["contact_id"]))
            if contact is None or contact.deleted:
                raise NotFound("No such contact.")
            phones = [c.sealer.open(directory_scope(who.firm_id), ct) for ct in contact.phones_ct]
            phones = [p for p in phones if p]
            if not phones:
                raise ApiError(422, "contact_has_no_phone", "That contact has no phone number to text.")
            phone = to_e164(phone) if phone else phones[0]
            if phone not in phones:
                raise ApiError(422, "invalid_phone", "That number is not one of the contact's numbers.")
        elif not isinstance(phone, str):
            raise ApiError(422, "invalid_request", "Send either contact_id or phone.")
        e164 = to_e164(phone)
        conv, created = open_conversation(uow, who.firm_id, e164, who.user_id)
        return (201 if created else 200), conversation_view(conv, who.user_id, c.reads, e164)

    return await c.run_sync(run_idempotently, c, who, request, raw, act,
                            lambda payload: conversation_scope(payload["id"]))


@router.get("/conversations/{conversation_id}", responses=refusals(404))
def get_conversation(conversation_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    conv = c.texting.conversation(who.firm_id, parse_id(conversation_id))
    return conversation_view(conv, who.user_id, c.reads)


@router.get("/conversations/{conversation_id}/messages", responses=refusals(404))
def list_messages(conversation_id: str, before: str | None = None, limit: int | None = Query(None),
                  who: Caller = Depends(texting_user), c: Container = Depends(container)):
    conv = c.texting.conversation(who.firm_id, parse_id(conversation_id))
    cursors = Cursors(c.settings.jwt_secret, who.firm_id, "messages", str(conv.id))
    cursor = cursors.read(before, int)
    messages, older = c.reads.messages(who.firm_id, str(conv.id), cursor[0] if cursor else None, clamp_limit(limit))
    return {"messages": with_links(c.settings.jwt_secret, who.firm_id, messages),
            "next_cursor": cursors.issue(older) if older else None}


@router.post("/conversations/{conversation_id}/messages", status_code=202, responses=refusals(404, 409))
async def send_message(conversation_id: str, request: Request, who: Caller = Depends(texting_user),
                       c: Container = Depends(container)):
    """Queue an SMS. Texting out is SMS only: any media field is refused."""
    payload, raw = await json_object(request)
    if any(k.lower().startswith("media") for k in payload):
        raise MediaNotSupported("Texting out is SMS only: images cannot be sent to clients.")
    body = payload.get("body")
    if not isinstance(body, str):
        raise ApiError(422, "invalid_body", "body must be the text to send.")
    conv_id = parse_id(conversation_id)

    def act(uow):
        return 202, {"message": request_outbound(uow, who.firm_id, conv_id, who.user_id, body)}

    return await c.run_sync(run_idempotently, c, who, request, raw, act, lambda _: conversation_scope(conv_id))


def _simple(action: str):
    def endpoint(conversation_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
        conv = getattr(c.texting, action)(who.firm_id, parse_id(conversation_id), who.user_id)
        if action == "block":
            c.media_store.delete_conversation(c.pool, conv.id)
            return {"id": str(conv.id), "blocked": True}
        return conversation_view(conv, who.user_id, c.reads)
    endpoint.__name__ = f"{action}_conversation"
    return endpoint


for _path, _action in (("read", "mark_read"), ("mute", "mute"), ("unmute", "unmute"), ("leave", "leave"),
                       ("archive", "archive"), ("block", "block")):
    router.add_api_route(f"/conversations/{{conversation_id}}/{_path}", _simple(_action), methods=["POST"],
                         responses=refusals(404))
