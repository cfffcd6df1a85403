"""What happens to an outbound text after it is queued: dispatch, carrier statuses, refusals.
Each use case takes the unit of work it decides in (domain/unit_of_work.py)."""
from __future__ import annotations

from uuid import UUID

from domain import statuses
from domain.unit_of_work import UnitOfWork

CARRIER_OPTED_OUT = 21610  # Twilio: "Attempt to send to unsubscribed recipient"


def record_dispatch(uow: UnitOfWork, conversation_id: UUID, message_id: str, carrier_sid: str,
                    carrier_status: str) -> bool:
    """The carrier accepted the text. False when the message is unknown (e.g. blocked)."""
    conv = uow.any_conversation(conversation_id)
    if conv is None or message_id not in conv.messages:
        return False
    if conv.messages[message_id]["carrier_sid"] == carrier_sid:
        return True  # redelivered outcome
    conv.dispatched(message_id=message_id, carrier_sid=carrier_sid, carrier_status=carrier_status)
    uow.save(conv)
    return True


def record_status(uow: UnitOfWork, conversation_id: UUID, message_id: str, status: str,
                  error_code: int | None = None) -> bool:
    """Apply a carrier status if it moves the message forward. Returns whether it changed."""
    if not statuses.is_known(status):
        return False
    conv = uow.any_conversation(conversation_id)
    if conv is None or not conv.status_would_change(message_id, status):
        return False
    conv.change_status(message_id=message_id, status=status, error_code=error_code)
    if error_code == CARRIER_OPTED_OUT and not conv.opted_out:
        conv.opt_out(source="carrier", keyword=None, message_id=message_id)
    uow.save(conv)
    return True


def may_send(uow: UnitOfWork, conversation_id: UUID, message_id: str) -> bool:
    """Re-checked by the sender just before dispatch: never text an opted-out or blocked number."""
    conv = uow.any_conversation(conversation_id)
    if conv is None or conv.blocked or message_id not in conv.messages:
        return False
    return not conv.opted_out and conv.messages[message_id]["status"] == "queued" \
        and conv.messages[message_id]["carrier_sid"] is None
