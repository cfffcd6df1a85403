"""Per-user and firm-wide inbox decisions: mute, leave, read, archive, block."""
from __future__ import annotations

from uuid import UUID

from domain.conversation import Conversation
from domain.scopes import conversation_scope


class InboxUseCases:
    """Mixed into :class:`domain.texting.Texting`; relies on its ``conversation``/``retrying``."""

    def _decide(self, firm_id: str, conversation_id: UUID, act) -> Conversation:
        """Load the firm's conversation, let the aggregate decide, save what it recorded."""
        def decide() -> Conversation:
            conv = self.conversation(firm_id, conversation_id)
            if act(conv):
                self.save(conv)
            return conv

        return self.retrying(decide)

    def mute(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id, lambda c: c.mute(user_id))

    def unmute(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id, lambda c: c.unmute(user_id))

    def leave(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id, lambda c: c.leave(user_id))

    def mark_read(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id, lambda c: c.mark_read(user_id))

    def archive(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id, lambda c: c.archive(user_id))

    def block(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        """Block the number for good; the caller then shreds the conversation's media."""
        conv = self._decide(firm_id, conversation_id, lambda c: c.block(user_id))
        self.sealer.destroy(conversation_scope(conv.id))
        return conv
