"""Deterministic aggregate ids: the same firm and natural key always give the same id,
so concurrent creators collide on the event store's unique (id, version) and one wins."""
from __future__ import annotations

from uuid import UUID, uuid4, uuid5

NAMESPACE = UUID("6f1d7c52-3f0a-4d63-9a51-2c8e4f0b9e11")


def firm_id_of(firm: str) -> UUID:
    return uuid5(NAMESPACE, f"firm:{firm}")


def number_claim_id(e164: str) -> UUID:
    """The aggregate that reserves a texting number for exactly one firm."""
    return uuid5(NAMESPACE, f"number:{e164}")


def user_id_of(firm: str, user: str) -> UUID:
    return uuid5(NAMESPACE, f"user:{firm}:{user}")


def contact_id_of(firm: str, contact: str) -> UUID:
    return uuid5(NAMESPACE, f"contact:{firm}:{contact}")


def case_id_of(firm: str, case: str) -> UUID:
    return uuid5(NAMESPACE, f"case:{firm}:{case}")


def conversation_id_of(firm: str, phone_hash: str) -> UUID:
    return uuid5(NAMESPACE, f"conversation:{firm}:{phone_hash}")


def new_message_id() -> str:
    return uuid4().hex
