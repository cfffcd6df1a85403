"""Conversations opened, texts requested and texts received. Each use case takes the unit of
work it decides in (domain/unit_of_work.py): what it saves is stored when the unit commits."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain import consent
from domain.conversation import SYSTEM_USER, Conversation
from domain.errors import Blocked, InvalidBody
from domain.ids import conversation_id_of, new_message_id
from domain.input_policy import InputRefused, check_text
from domain.scopes import conversation_scope
from domain.unit_of_work import UnitOfWork

MAX_BODY = 1600


@dataclass(frozen=True)
class InboundOutcome:
    conversation_id: UUID
    message_id: str | None
    duplicate: bool = False
    dropped: bool = False
    effect: str | None = None


def _start(uow: UnitOfWork, firm_id: str, phone_hash: str, e164: str, by_user: str | None) -> Conversation:
    """A new conversation with ``e164``; its data key is stored with its first events."""
    scope = conversation_scope(conversation_id_of(firm_id, phone_hash))
    uow.new_scope(scope)
    return Conversation(firm_id=firm_id, phone_hash=phone_hash, phone_ct=uow.seal(scope, e164), started_by=by_user)


def open_conversation(uow: UnitOfWork, firm_id: str, e164: str, by_user: str | None) -> tuple[Conversation, bool]:
    """The conversation with ``e164``, started if new. Returns (conversation, created)."""
    phone_hash = uow.phone_hash(firm_id, e164)
    conv = uow.get(conversation_id_of(firm_id, phone_hash))
    if conv is not None:
        if conv.blocked:
            raise Blocked("This number is blocked: the firm no longer texts with it.")
        return conv, False
    conv = _start(uow, firm_id, phone_hash, e164, by_user)
    uow.save(conv)
    return conv, True


def check_outbound_body(body: str) -> None:
    """Refuse an empty, overlong or unkeepable text before anything is loaded."""
    if not (body or "").strip():
        raise InvalidBody("The message is empty.")
    if len(body) > MAX_BODY:
        raise InvalidBody(f"The message is {len(body)} characters long; the limit is {MAX_BODY}.")
    try:
        check_text(body, "the message", MAX_BODY)
    except InputRefused as refused:
        raise InvalidBody(f"The message cannot be sent: {refused.message}.") from None


def request_outbound(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str, body: str) -> dict:
    """Queue a text to the conversation's number; the sender agent dispatches it."""
    check_outbound_body(body)
    conv = uow.conversation(firm_id, conversation_id)
    message_id = new_message_id()
    conv.send_text(message_id=message_id, user_id=user_id, body_ct=uow.seal(conversation_scope(conv.id), body))
    uow.save(conv)
    return {"id": message_id, "conversation_id": str(conv.id), "direction": "outbound",
            "body": body, "media": [], "sender_user_id": user_id, "status": "queued",
            "created_at": conv.modified_on.isoformat()}


def receive_inbound(uow: UnitOfWork, firm_id: str, e164: str, carrier_sid: str, body: str,
                    media: list[dict] | None = None, rejected_media: list[dict] | None = None,
                    carrier_answered_help: bool = False) -> InboundOutcome:
    """Record a text from ``e164``; STOP/START/HELP change consent. Idempotent per carrier sid."""
    phone_hash = uow.phone_hash(firm_id, e164)
    conv = uow.get(conversation_id_of(firm_id, phone_hash))
    if conv is None:
        conv = _start(uow, firm_id, phone_hash, e164, None)
    seen = uow.carrier_sid(conv.id, carrier_sid)
    if seen is not None:
        return InboundOutcome(conv.id, seen or None, duplicate=True)
    if conv.blocked:
        # Nothing of the text is kept: only that something arrived and was dropped.
        conv.drop_blocked_text(carrier_sid=carrier_sid)
        uow.save(conv)
        return InboundOutcome(conv.id, None, dropped=True)
    scope = conversation_scope(conv.id)
    keyword = consent.keyword_of(body)
    effect = consent.consent_effect(keyword)
    message_id = new_message_id()
    conv.receive(message_id=message_id, carrier_sid=carrier_sid, body_ct=uow.seal(scope, body or ""),
                 media=_seal_media(uow, scope, media), rejected_media=list(rejected_media or []), keyword=keyword)
    if effect == "opt_out" and not conv.opted_out:
        conv.opt_out(source="keyword", keyword=keyword, message_id=message_id)
    elif effect == "opt_in" and conv.opted_out:
        conv.opt_in(source="keyword", keyword=keyword, message_id=message_id)
    elif effect == "help":
        _answer_help(uow, conv, message_id, carrier_answered_help)
    uow.save(conv)
    return InboundOutcome(conv.id, message_id, effect=effect)


def _seal_media(uow: UnitOfWork, scope: str, media: list[dict] | None) -> list[dict]:
    """An image's digest identifies it: it is sealed like the body, so shredding covers it."""
    return [{"id": m["id"], "content_type": m["content_type"], "size": m["size"],
             "sha256_ct": uow.seal(scope, m["sha256"])} for m in media or []]


def _answer_help(uow: UnitOfWork, conv: Conversation, message_id: str, carrier_answered: bool) -> None:
    firm = uow.firm(conv.firm_id)
    answer = not carrier_answered and bool(firm and firm.help_text) and not conv.opted_out
    conv.help_requested(message_id=message_id, answered=answer)
    if answer:
        conv.send_text(message_id=new_message_id(), user_id=SYSTEM_USER,
                       body_ct=uow.seal(conversation_scope(conv.id), firm.help_text))
