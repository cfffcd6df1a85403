"""The texting application: every use case staff, carrier and host platform can invoke.

Methods are synchronous (eventsourcing and psycopg are); async callers run them in a
thread. Optimistic concurrency: a concurrent writer makes ``save`` raise
IntegrityError and the whole decision is retried on fresh state.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import consent
from domain.conversation import SYSTEM_USER, Conversation
from domain.directory import Firm, NumberClaim
from domain.errors import Blocked, EventTooLarge, InvalidBody, NotFound
from domain.input_policy import InputRefused, check_text
from domain.ids import conversation_id_of, firm_id_of, new_message_id, number_claim_id
from domain.envelope import MAX_ENVELOPE_BYTES, envelope_size
from domain.ports import Sealer
from domain.scopes import conversation_scope  # noqa: F401  (re-exported: many adapters import it here)
from domain.use_cases_delivery import DeliveryUseCases
from domain.use_cases_directory import DirectoryUseCases
from domain.use_cases_inbox import InboxUseCases

T = TypeVar("T")
MAX_BODY = 1600


@dataclass
class Batch:
    """Aggregates touched by the commands of one group commit, in first-touch order."""

    aggregates: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundOutcome:
    conversation_id: UUID
    message_id: str | None
    duplicate: bool = False
    dropped: bool = False
    effect: str | None = None


class Texting(DeliveryUseCases, InboxUseCases, DirectoryUseCases, Application):
    name = "firmtext"

    def __init__(self, sealer: Sealer, env: dict[str, str] | None = None,
                 max_event_bytes: int = MAX_ENVELOPE_BYTES) -> None:
        super().__init__(env)
        self.sealer = sealer
        self._local = threading.local()
        self.max_event_bytes = max_event_bytes  # every stored event must fit the shared log

    def ensure_events_fit(self, *aggregates) -> None:
        """Refuse (before anything is stored) a command whose events the log could not hold."""
        for agg in aggregates:
            for pending in agg.pending_events:
                size = envelope_size(pending, getattr(agg, "firm_id", None))
                if size > self.max_event_bytes:
                    raise EventTooLarge(f"That is too large to keep: it would take {size:,} bytes, "
                                        f"and the limit is {self.max_event_bytes:,}.")

    # -- plumbing ---------------------------------------------------------------
    @contextmanager
    def batch(self):
        """Group commit: inside, ``save`` only collects; the caller commits with
        :meth:`commit_batch` (one transaction for many commands) or drops the batch.
        Commands in one batch see each other's changes (one instance per aggregate)."""
        self._local.batch = Batch()
        try:
            yield self._local.batch
        finally:
            self._local.batch = None

    def commit_batch(self, batch: Batch) -> None:
        if batch.pending:
            Application.save(self, *batch.pending.values())

    def save(self, *objs, **kwargs):
        self.ensure_events_fit(*objs)
        batch = getattr(self._local, "batch", None)
        if batch is None:
            return super().save(*objs, **kwargs)
        for agg in objs:
            batch.aggregates[agg.id] = batch.pending[agg.id] = agg
        return []

    def retrying(self, decide: Callable[[], T], attempts: int = 8) -> T:
        """Run ``decide`` (load, decide, save) again when a concurrent write wins."""
        if getattr(self._local, "batch", None) is not None:
            return decide()  # conflicts surface when the whole batch commits
        for attempt in range(attempts):
            try:
                return decide()
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    def get_or_none(self, aggregate_id: UUID) -> Any:
        batch = getattr(self._local, "batch", None)
        if batch is not None and aggregate_id in batch.aggregates:
            return batch.aggregates[aggregate_id]
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if batch is not None:
            batch.aggregates[aggregate_id] = aggregate
        return aggregate

    def firm(self, firm_id: str) -> Firm | None:
        return self.get_or_none(firm_id_of(firm_id))

    def firm_for_number(self, number: str) -> str | None:
        claim = self.get_or_none(number_claim_id(number))
        return claim.firm_id if claim else None

    def is_blocked(self, conversation_id: UUID) -> bool:
        conv = self.get_or_none(conversation_id)
        return bool(conv is not None and conv.blocked)

    def conversation(self, firm_id: str, conversation_id: UUID) -> Conversation:
        """The firm's open conversation, or NotFound (other firms' and blocked ones alike)."""
        conv = self.get_or_none(conversation_id)
        if not isinstance(conv, Conversation) or conv.firm_id != firm_id or conv.blocked:
            raise NotFound("No such conversation.")
        return conv

    # -- conversations ------------------------------------------------------------
    def open_conversation(self, firm_id: str, e164: str, by_user: str | None) -> tuple[Conversation, bool]:
        """The conversation with ``e164``, started if new. Returns (conversation, created)."""
        phone_hash = self.sealer.phone_hash(firm_id, e164)
        conv_id = conversation_id_of(firm_id, phone_hash)

        def decide() -> tuple[Conversation, bool]:
            conv = self.get_or_none(conv_id)
            if conv is not None:
                if conv.blocked:
                    raise Blocked("This number is blocked: the firm no longer texts with it.")
                return conv, False
            self.sealer.new_scope(conversation_scope(conv_id))
            phone_ct = self.sealer.seal(conversation_scope(conv_id), e164)
            conv = Conversation(firm_id=firm_id, phone_hash=phone_hash, phone_ct=phone_ct, started_by=by_user)
            self.save(conv)
            return conv, True

        return self.retrying(decide)

    def request_outbound(self, firm_id: str, conversation_id: UUID, user_id: str, body: str) -> dict:
        """Queue a text to the conversation's number; the sender agent dispatches it."""
        text = (body or "").strip()
        if not text:
            raise InvalidBody("The message is empty.")
        if len(body) > MAX_BODY:
            raise InvalidBody(f"The message is {len(body)} characters long; the limit is {MAX_BODY}.")
        try:
            check_text(body, "the message", MAX_BODY)
        except InputRefused as refused:
            raise InvalidBody(f"The message cannot be sent: {refused.message}.") from None

        def decide() -> dict:
            conv = self.conversation(firm_id, conversation_id)
            message_id = new_message_id()
            conv.send_text(message_id=message_id, user_id=user_id,
                           body_ct=self.sealer.seal(conversation_scope(conv.id), body))
            self.save(conv)
            return {"id": message_id, "conversation_id": str(conv.id), "direction": "outbound",
                    "body": body, "media": [], "sender_user_id": user_id, "status": "queued",
                    "created_at": conv.modified_on.isoformat()}

        return self.retrying(decide)

    def receive_inbound(self, firm_id: str, e164: str, carrier_sid: str, body: str,
                        media: list[dict] | None = None, rejected_media: list[dict] | None = None,
                        carrier_answered_help: bool = False) -> InboundOutcome:
        """Record a text from ``e164``; STOP/START/HELP change consent. Idempotent per carrier sid."""
        phone_hash = self.sealer.phone_hash(firm_id, e164)
        conv_id = conversation_id_of(firm_id, phone_hash)
        scope = conversation_scope(conv_id)

        def decide() -> InboundOutcome:
            conv = self.get_or_none(conv_id)
            if conv is None:
                self.sealer.new_scope(scope)
                conv = Conversation(firm_id=firm_id, phone_hash=phone_hash,
                                    phone_ct=self.sealer.seal(scope, e164), started_by=None)
            if conv.has_carrier_sid(carrier_sid):
                return InboundOutcome(conv.id, conv.carrier_sids[carrier_sid] or None, duplicate=True)
            if conv.blocked:
                # Nothing of the text is kept: only that something arrived and was dropped.
                conv.drop_blocked_text(carrier_sid=carrier_sid)
                self.save(conv)
                return InboundOutcome(conv.id, None, dropped=True)
            keyword = consent.keyword_of(body)
            effect = consent.consent_effect(keyword)
            message_id = new_message_id()
            conv.receive(message_id=message_id, carrier_sid=carrier_sid,
                         body_ct=self.sealer.seal(scope, body or ""), media=self._seal_media(scope, media),
                         rejected_media=list(rejected_media or []), keyword=keyword)
            if effect == "opt_out" and not conv.opted_out:
                conv.opt_out(source="keyword", keyword=keyword, message_id=message_id)
            elif effect == "opt_in" and conv.opted_out:
                conv.opt_in(source="keyword", keyword=keyword, message_id=message_id)
            elif effect == "help":
                self._answer_help(conv, message_id, carrier_answered_help)
            self.save(conv)
            return InboundOutcome(conv.id, message_id, effect=effect)

        return self.retrying(decide)

    def _seal_media(self, scope: str, media: list[dict] | None) -> list[dict]:
        """An image's digest identifies it: it is sealed like the body, so shredding covers it."""
        return [{"id": m["id"], "content_type": m["content_type"], "size": m["size"],
                 "sha256_ct": self.sealer.seal(scope, m["sha256"])} for m in media or []]

    def _answer_help(self, conv: Conversation, message_id: str, carrier_answered: bool) -> None:
        firm = self.firm(conv.firm_id)
        answer = not carrier_answered and bool(firm and firm.help_text) and not conv.opted_out
        conv.help_requested(message_id=message_id, answered=answer)
        if answer:
            conv.send_text(message_id=new_message_id(), user_id=SYSTEM_USER,
                           body_ct=self.sealer.seal(conversation_scope(conv.id), firm.help_text))
