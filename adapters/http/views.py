"""Turning aggregates into API payloads (the write side's own, always-fresh view)."""
from __future__ import annotations

from adapters.http.read_models import ReadModels
from domain.conversation import Conversation
from domain.texting import conversation_scope


def conversation_view(conv: Conversation, user_id: str, reads: ReadModels, phone: str | None = None) -> dict:
    """``phone``: the number when the caller knows it (a conversation just started in a unit
    of work not committed yet, whose key is not stored yet)."""
    links = reads.links(conv.firm_id, [conv.phone_hash])[conv.phone_hash]
    return {
        "id": str(conv.id),
        "phone": phone or reads.sealer.open(conversation_scope(conv.id), conv.phone_ct),
        "contacts": links["contacts"],
        "cases": links["cases"],
        "muted": user_id in conv.muted,
        "left": user_id in conv.left,
        "archived": conv.archived,
        "opted_out": conv.opted_out,
        "participants": sorted(conv.participants),
        "created_at": conv.created_on.isoformat(),
    }
