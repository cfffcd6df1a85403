"""The one registry of data-key scopes (crypto-shredding, docs/privacy.md).

A scope names the data key that seals a set of values; destroying it makes them
unreadable for good. Every module builds and parses scopes here, so blocking can
never destroy a key spelled differently from the one that sealed the data.
"""
from __future__ import annotations

from uuid import UUID

CONVERSATION = "conversation:"  # bodies, the number, media of one conversation
DIRECTORY = "directory:"  # the contacts' phone numbers of one firm


def conversation_scope(conversation_id: UUID | str) -> str:
    """The key scope of a conversation's sealed values (destroyed on block)."""
    return f"{CONVERSATION}{conversation_id}"


def directory_scope(firm_id: str) -> str:
    """The key scope of a firm's contact phone numbers."""
    return f"{DIRECTORY}{firm_id}"


def conversation_of_scope(scope: str) -> str | None:
    """The conversation id a scope belongs to, or None for any other scope."""
    return scope.removeprefix(CONVERSATION) if scope.startswith(CONVERSATION) else None
