"""Per-user and firm-wide inbox decisions: mute, leave, read, archive, block."""
from __future__ import annotations

from uuid import UUID

from domain.conversation import Conversation


class InboxUseCases:
    """Mixed into :class:`domain.texting.Texting`; relies on its ``conversation``/``retrying``."""

    def _decide(self, firm_id: str, conversation_id: UUID, act) -> Conversation:
        def decide() -> Conversation:
            conv = self.conversation(firm_id, conversation_id)
            if act(conv) is not False:
                self.save(conv)
            return conv

        return self.retrying(decide)

    def mute(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id,
                            lambda c: c.mute(user_id=user_id) if user_id not in c.muted else False)

    def unmute(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id,
                            lambda c: c.unmute(user_id=user_id) if user_id in c.muted else False)

    def leave(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id,
                            lambda c: c.leave(user_id=user_id) if user_id not in c.left else False)

    def mark_read(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id,
                            lambda c: c.mark_read(user_id=user_id, inbound_count=c.inbound_count))

    def archive(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        return self._decide(firm_id, conversation_id,
                            lambda c: c.archive(user_id=user_id) if not c.archived else False)

    def block(self, firm_id: str, conversation_id: UUID, user_id: str) -> Conversation:
        """Block the number for good; the caller then shreds the conversation's key and media."""
        conv = self._decide(firm_id, conversation_id, lambda c: c.block(user_id=user_id))
        self.sealer.destroy(f"conversation:{conv.id}")
        return conv
