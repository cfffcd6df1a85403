"""Deterministic aggregate ids: the same firm and natural key always give the same id,
so concurrent creators collide on the event store's unique (id, version) and one wins.

Each id is a uuid5 over a JSON array of its parts (``["contact", firm, contact]``),
never over a joined string: with ``f"contact:{firm}:{contact}"`` firm ``F:x`` with
contact ``kc`` was the same record as firm ``F`` with contact ``x:kc``. A JSON array
of strings has exactly one reading, whatever characters the parts hold.
"""
from __future__ import annotations

import json
from uuid import UUID, uuid4, uuid5

NAMESPACE = UUID("6f1d7c52-3f0a-4d63-9a51-2c8e4f0b9e11")


# json.dumps(parts, ensure_ascii=True, separators=(",", ":")), its encoder built once.
_KEY = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def structural_key(*parts: str | int) -> str:
    """The one encoding of a tuple of parts as text (ASCII JSON: lone surrogates escaped)."""
    return _KEY(list(parts))


def _id(*parts: str) -> UUID:
    return uuid5(NAMESPACE, structural_key(*parts))


def firm_id_of(firm: str) -> UUID:
    return _id("firm", firm)


def number_claim_id(e164: str) -> UUID:
    """The aggregate that reserves a texting number for exactly one firm."""
    return _id("number", e164)


def user_id_of(firm: str, user: str) -> UUID:
    return _id("user", firm, user)


def contact_id_of(firm: str, contact: str) -> UUID:
    return _id("contact", firm, contact)


def case_id_of(firm: str, case: str) -> UUID:
    return _id("case", firm, case)


def conversation_id_of(firm: str, phone_hash: str) -> UUID:
    return _id("conversation", firm, phone_hash)


def new_message_id() -> str:
    return uuid4().hex
