"""Consent: whether a number may be texted, and the history that proves it
(every opt-out and opt-in, when, how, and from which message)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends

from adapters.auth import Caller
from adapters.http.deps import container, texting_user
from adapters.http.openapi import refusals
from adapters.http.routes_conversations import parse_id
from adapters.phone import to_e164
from domain.errors import NotFound
from domain.ids import conversation_id_of

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["consent"])


def consent_view(c: Container, firm_id: str, conversation_id) -> dict:
    conv = c.texting.conversation(firm_id, conversation_id)
    return {"conversation_id": str(conv.id), "opted_out": conv.opted_out,
            "history": c.reads.consent_history(firm_id, str(conv.id))}


@router.get("/conversations/{conversation_id}/consent", responses=refusals(404))
def conversation_consent(conversation_id: str, who: Caller = Depends(texting_user),
                         c: Container = Depends(container)):
    return consent_view(c, who.firm_id, parse_id(conversation_id))


@router.get("/consent")
def number_consent(phone: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """Consent of a number, whether or not the firm ever texted it (never texted: opted in, no history)."""
    e164 = to_e164(phone)
    conversation_id = conversation_id_of(who.firm_id, c.sealer.phone_hash(who.firm_id, e164))
    try:
        return {"phone": e164, **consent_view(c, who.firm_id, conversation_id)}
    except NotFound:
        return {"phone": e164, "conversation_id": None, "opted_out": False, "history": []}
