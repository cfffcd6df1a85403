"""The conversation: one firm and one phone number, and everything said and decided in it.

Sensitive values (body, phone, media references) arrive here already sealed: the
aggregate never sees plaintext, so the event store never holds any.
"""
from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import statuses
from domain.errors import Blocked, NotFound, OptedOut
from domain.ids import conversation_id_of

SYSTEM_USER = "system"  # automatic replies (HELP); never a participant
_IMMUTABLE = frozenset({str, int, bool, float, type(None), datetime, UUID})


def sender_participates(user_id: str, participating: bool | None) -> bool:
    """Whether a requested text made its sender participate (the fact the event records;
    events stored before it was recorded were decided by the same rule: staff, not system)."""
    return user_id != SYSTEM_USER if participating is None else participating


def firms_open(conv: Any, firm_id: str) -> Conversation:
    """``conv`` when it is ``firm_id``'s open conversation; NotFound otherwise (another firm's,
    a blocked one and none at all look the same, so no firm learns of another's)."""
    if not isinstance(conv, Conversation) or conv.firm_id != firm_id or conv.blocked:
        raise NotFound("No such conversation.")
    return conv


class LegacyCarrierSids:
    """How a snapshot of an older release held the conversation's carrier sids (every one,
    in the aggregate). They are now in the event store's sid index (adapters/unit_recorder.py;
    `firmtext migrate` fills it from the stored events), so such a snapshot's copy is read
    and dropped (domain/texting.py, ``CarrierSidsAsDict``)."""


class Conversation(Aggregate):
    @staticmethod
    def create_id(firm_id: str, phone_hash: str, **_: Any):
        return conversation_id_of(firm_id, phone_hash)

    @event("Started")
    def __init__(self, firm_id: str, phone_hash: str, phone_ct: str, started_by: str | None) -> None:
        self.firm_id = firm_id
        self.phone_hash = phone_hash
        self.phone_ct = phone_ct
        self.started_by = started_by
        self.messages: dict[str, dict] = {}  # outbound texts: their status and carrier sid
        # The carrier sids it has seen are not kept here: the unit of work asks the event
        # store's sid index (UnitOfWork.carrier_sid), so the state stays small however long
        # the conversation (issue 11).
        self.participants: set[str] = set()
        self.muted: set[str] = set()
        self.left: set[str] = set()
        self.archived = False
        self.opted_out = False
        self.blocked = False
        self.inbound_count = 0
        if started_by:
            self.participants.add(started_by)

    def __deepcopy__(self, memo: dict) -> Conversation:
        """The private copy eventsourcing's aggregate cache hands out on every load (and
        ``Texting.load_many`` likewise), about 10x cheaper than ``copy.deepcopy``'s generic
        walk, which was a tenth of the API's CPU per text (issue 11). The state is immutable
        values, sets of user ids and ``messages`` (message id -> a flat dict of str/None), so
        those are copied one level down; anything else falls back to ``deepcopy``."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        state = clone.__dict__
        for name, value in self.__dict__.items():
            kind = type(value)
            if kind in _IMMUTABLE:
                state[name] = value
            elif kind is set and all(type(v) is str for v in value):
                state[name] = set(value)
            elif name == "messages" and kind is dict:
                state[name] = {k: dict(v) for k, v in value.items()}
            else:
                state[name] = deepcopy(value, memo)
        return clone

    # -- guards ---------------------------------------------------------------
    def ensure_open(self) -> None:
        if self.blocked:
            raise NotFound("No such conversation.")

    def ensure_textable(self) -> None:
        self.ensure_open()
        if self.opted_out:
            raise OptedOut("This number replied STOP and has opted out of texts from the firm.")

    # -- messages -------------------------------------------------------------
    @event("InboundReceived")
    def receive(self, message_id: str, carrier_sid: str, body_ct: str, media: list[dict],
                rejected_media: list[dict], keyword: str | None) -> None:
        # Not kept in ``messages``: an inbound text's status never moves, and keeping every
        # one made each load and copy of a long conversation slower (issue 11).
        self.inbound_count += 1
        self.archived = False

    def send_text(self, message_id: str, user_id: str, body_ct: str) -> None:
        """Queue a text to the number; refused when it is blocked or opted out. A staff
        sender participates: they rejoin with notifications on, and an archived
        conversation returns to the inbox. Automatic replies (SYSTEM_USER) do neither."""
        self.ensure_textable()
        self.request_outbound(message_id=message_id, user_id=user_id, body_ct=body_ct,
                              participating=user_id != SYSTEM_USER)

    @event("OutboundRequested")
    def request_outbound(self, message_id: str, user_id: str, body_ct: str,
                         participating: bool | None = None) -> None:
        self.messages[message_id] = {"direction": "outbound", "status": "queued", "carrier_sid": None}
        if sender_participates(user_id, participating):
            # Participating turns the sender's notifications back on and rejoins them;
            # a conversation someone writes in again is no longer done with.
            self.archived = False
            self.participants.add(user_id)
            self.left.discard(user_id)
            self.muted.discard(user_id)

    @event("MessageDispatched")
    def dispatched(self, message_id: str, carrier_sid: str, carrier_status: str) -> None:
        msg = self.messages.get(message_id)
        if msg is None:  # stored by an older release about an inbound text (no longer kept here)
            return
        msg["carrier_sid"] = carrier_sid
        if statuses.moves_forward(msg["status"], carrier_status):
            msg["status"] = carrier_status

    @event("MessageStatusChanged")
    def change_status(self, message_id: str, status: str, error_code: int | None) -> None:
        if message_id in self.messages:  # older releases could record one for an inbound text
            self.messages[message_id]["status"] = status

    def status_would_change(self, message_id: str, status: str) -> bool:
        msg = self.messages.get(message_id)
        return bool(msg) and statuses.moves_forward(msg["status"], status)

    # -- consent --------------------------------------------------------------
    @event("OptedOut")
    def opt_out(self, source: str, keyword: str | None, message_id: str | None) -> None:
        self.opted_out = True

    @event("OptedIn")
    def opt_in(self, source: str, keyword: str | None, message_id: str | None) -> None:
        self.opted_out = False

    @event("HelpRequested")
    def help_requested(self, message_id: str, answered: bool) -> None:
        pass

    # -- per-user and firm-wide inbox decisions ---------------------------------------
    # Each command records an event only when it changes something, and says whether it did.
    def mute(self, user_id: str) -> bool:
        """The bell: ``user_id`` is no longer notified of this conversation."""
        return user_id not in self.muted and self._recorded(self._muted(user_id=user_id))

    def unmute(self, user_id: str) -> bool:
        return user_id in self.muted and self._recorded(self._unmuted(user_id=user_id))

    def leave(self, user_id: str) -> bool:
        """Off ``user_id``'s inbox only; sending in it again rejoins (:meth:`send_text`)."""
        return user_id not in self.left and self._recorded(self._left(user_id=user_id))

    def mark_read(self, user_id: str) -> bool:
        """Everything received so far is read by ``user_id``."""
        return self._recorded(self._marked_read(user_id=user_id, inbound_count=self.inbound_count))

    def archive(self, user_id: str) -> bool:
        """Off everyone's inbox until the next inbound text (or a staff send)."""
        return not self.archived and self._recorded(self._archived(user_id=user_id))

    def block(self, user_id: str) -> bool:
        """For good: the caller then destroys the conversation's key and media."""
        self.ensure_open()
        return self._recorded(self._blocked(user_id=user_id))

    @staticmethod
    def _recorded(_: None) -> bool:
        return True

    @event("Muted")
    def _muted(self, user_id: str) -> None:
        self.muted.add(user_id)

    @event("Unmuted")
    def _unmuted(self, user_id: str) -> None:
        self.muted.discard(user_id)

    @event("Left")
    def _left(self, user_id: str) -> None:
        self.left.add(user_id)

    @event("MarkedRead")
    def _marked_read(self, user_id: str, inbound_count: int) -> None:
        pass

    @event("Archived")
    def _archived(self, user_id: str) -> None:
        self.archived = True

    @event("Blocked")
    def _blocked(self, user_id: str) -> None:
        self.blocked = True
        self.messages = {}
        self.participants = set()

    @event("BlockedTextDropped")
    def drop_blocked_text(self, carrier_sid: str) -> None:
        pass  # only that it arrived: its sid is kept in the sid index, with the event

    def ensure_not_blocked(self) -> None:
        if self.blocked:
            raise Blocked("This number is blocked.")
