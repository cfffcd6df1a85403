"""Per-user and firm-wide inbox decisions: mute, leave, read, archive, block.
Each use case takes the unit of work it decides in (domain/unit_of_work.py)."""
from __future__ import annotations

from typing import Callable
from uuid import UUID

from domain.conversation import Conversation
from domain.scopes import conversation_scope
from domain.unit_of_work import UnitOfWork


def _decide(uow: UnitOfWork, firm_id: str, conversation_id: UUID, act: Callable[[Conversation], bool]) -> Conversation:
    """Load the firm's conversation, let the aggregate decide, save what it recorded."""
    conv = uow.conversation(firm_id, conversation_id)
    if act(conv):
        uow.save(conv)
    return conv


def mute(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    return _decide(uow, firm_id, conversation_id, lambda c: c.mute(user_id))


def unmute(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    return _decide(uow, firm_id, conversation_id, lambda c: c.unmute(user_id))


def leave(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    return _decide(uow, firm_id, conversation_id, lambda c: c.leave(user_id))


def mark_read(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    return _decide(uow, firm_id, conversation_id, lambda c: c.mark_read(user_id))


def archive(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    return _decide(uow, firm_id, conversation_id, lambda c: c.archive(user_id))


def block(uow: UnitOfWork, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
    """Block the number for good. Its key is destroyed once the block is committed (never
    when the unit is dropped); the caller then shreds the conversation's media."""
    conv = _decide(uow, firm_id, conversation_id, lambda c: c.block(user_id))
    uow.after_commit(lambda: uow.sealer.destroy(conversation_scope(conv.id)))
    return conv
