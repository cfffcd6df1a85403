"""The texting application: the event store, and every use case staff, carrier and host
platform can invoke, each run in a unit of work of its own.

The use cases themselves are functions taking the unit explicitly (domain/use_cases_*.py);
the methods here are their one-unit entry points: :meth:`Texting.run` opens a unit, lets
the use case decide, commits it (one transaction) and, when a concurrent writer won
(IntegrityError), decides again on fresh state. The group committer (domain/group_commit.py)
runs many use cases in one unit instead. Methods are synchronous (eventsourcing and psycopg
are); async callers run them in a thread.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, TypeVar
from uuid import UUID

from copy import deepcopy

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain import use_cases_conversation as conversations
from domain import use_cases_delivery as delivery
from domain import use_cases_directory as directory
from domain import use_cases_inbox as inbox
from domain.conversation import Conversation, LegacyCarrierSids
from domain.directory import Firm
from domain.envelope import MAX_ENVELOPE_BYTES, envelope_size
from domain.errors import EventTooLarge
from domain.ports import Sealer
from domain.scopes import conversation_scope  # noqa: F401  (re-exported: many adapters import it here)
from domain.unit_of_work import UnitOfWork
from domain.use_cases_conversation import MAX_BODY, InboundOutcome  # noqa: F401  (re-exported)

T = TypeVar("T")
log = logging.getLogger("firmtext.texting")
ATTEMPTS = 8
SNAPSHOT_EVERY = 200  # events: a cold load replays at most this many after the newest snapshot


class SetAsList(Transcoding):
    """Snapshots hold a conversation's participants, muted and left users (sets)."""

    type, name = set, "set"

    def encode(self, obj: set) -> list:
        return sorted(obj)

    def decode(self, data: list) -> set:
        return set(data)


class CarrierSidsAsDict(Transcoding):
    """Reads an older release's snapshot, whose conversation held every carrier sid, as
    None: they are in the sid index now, and the next snapshot no longer carries them."""

    type, name = LegacyCarrierSids, "carrier_sids"

    def encode(self, obj: LegacyCarrierSids) -> dict:
        raise TypeError("carrier sids are kept in the sid index, not in an aggregate")

    def decode(self, data: dict) -> None:
        return None


class Texting(Application):
    name = "firmtext"
    snapshotting_intervals = {Conversation: SNAPSHOT_EVERY}

    def __init__(self, sealer: Sealer, env: dict[str, str] | None = None,
                 max_event_bytes: int = MAX_ENVELOPE_BYTES) -> None:
        super().__init__(env)
        if not getattr(self.recorder, "keeps_staged_writes", False) \
                or not hasattr(self.recorder, "select_carrier_sids"):
            # A unit of work's new keys and carrier sids are stored by the recorder, with its
            # events: one that ignored the keys would keep ciphertexts whose key is lost, one
            # without the sid index would record a carrier's retried webhook twice.
            raise TypeError(f"{type(self.recorder).__name__} does not keep a unit of work's staged "
                            "writes and carrier sids: set APPLICATION_RECORDER_TOPIC (firmtext/bootstrap.py).")
        self.sealer = sealer
        self.max_event_bytes = max_event_bytes  # every stored event must fit the shared log

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SetAsList())
        transcoder.register(CarrierSidsAsDict())

    def _take_snapshots(self, processing_event) -> None:
        """Snapshots are taken after the events committed: one that fails costs a slower cold
        load later, never the command (its answer, its after-commit effects)."""
        try:
            super()._take_snapshots(processing_event)
        except Exception:  # noqa: BLE001 - the events are stored; say so and go on
            log.exception("a snapshot could not be taken; cold loads replay more events until the next")

    def ensure_events_fit(self, *aggregates) -> None:
        """Refuse (before anything is stored) a command whose events the log could not hold."""
        for agg in aggregates:
            for pending in agg.pending_events:
                size = envelope_size(pending, getattr(agg, "firm_id", None))
                if size > self.max_event_bytes:
                    raise EventTooLarge(f"That is too large to keep: it would take {size:,} bytes, "
                                        f"and the limit is {self.max_event_bytes:,}.")

    def load_many(self, ids: list[UUID]) -> dict[UUID, Any]:
        """The aggregates of ``ids`` that exist, each a private copy as ``repository.get``
        gives, loaded in ONE round trip when the recorder can (``select_streams``): the
        cached ones fast-forwarded by their newer events, the others from their newest
        snapshot and the events after it. The cache gets the fresh state, as a get would."""
        select = getattr(self.recorder, "select_streams", None)
        cache = self.repository.cache
        if select is None or cache is None:  # the in-memory store: one by one is as cheap
            found = {}
            for aggregate_id in ids:
                try:
                    found[aggregate_id] = self.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    pass
            return found
        cached = {}
        for aggregate_id in ids:
            try:
                cached[aggregate_id] = cache.get(aggregate_id)
            except KeyError:
                pass
        snapshots_table = getattr(getattr(self.snapshots, "recorder", None), "events_table_name", None)
        snapshots, streams = select({i: cached[i].version if i in cached else 0 for i in ids}, snapshots_table)
        found = {}
        for aggregate_id in ids:
            held = cached.get(aggregate_id)
            stored = ([snapshots[aggregate_id]] if held is None and aggregate_id in snapshots else []) \
                + streams.get(aggregate_id, [])
            if stored:  # never mutate the cached instance: other threads may be reading it
                held = project_aggregate(deepcopy(held) if held is not None else None,
                                         [self.mapper.to_domain_event(s) for s in stored])
                if held is not None:
                    cache.put(aggregate_id, held)
            if held is not None:
                found[aggregate_id] = deepcopy(held)
        return found

    # -- units of work --------------------------------------------------------------
    def unit(self, fresh_keys: bool = True) -> UnitOfWork:
        """A new, empty unit of work on this event store."""
        return UnitOfWork(self, self.sealer, fresh_keys)

    def run(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``use_case(unit, *args)`` in a unit of its own, committed; decided again on fresh
        state (a new unit) when a concurrent writer won the race."""
        for attempt in range(ATTEMPTS):
            uow = self.unit(fresh_keys=attempt == 0)
            try:
                result = use_case(uow, *args, **kwargs)
                uow.commit()
                return result
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- reads (a unit that is never committed) -----------------------------------------
    def get_or_none(self, aggregate_id: UUID) -> Any:
        return self.unit().get(aggregate_id)

    def firm(self, firm_id: str) -> Firm | None:
        return self.unit().firm(firm_id)

    def conversation(self, firm_id: str, conversation_id: UUID) -> Conversation:
        """The firm's open conversation, or NotFound (other firms' and blocked ones alike)."""
        return self.unit().conversation(firm_id, conversation_id)

    def is_blocked(self, conversation_id: UUID) -> bool:
        conv = self.unit().any_conversation(conversation_id)
        return bool(conv is not None and conv.blocked)

    def firm_for_number(self, number: str) -> str | None:
        return directory.firm_for_number(self.unit(), number)

    def staff_user(self, firm_id: str, user_id: str):
        return directory.staff_user(self.unit(), firm_id, user_id)

    def may_send(self, conversation_id: UUID, message_id: str) -> bool:
        return delivery.may_send(self.unit(), conversation_id, message_id)

    # -- the use cases, one unit each ---------------------------------------------------
    def open_conversation(self, *args, **kwargs) -> tuple[Conversation, bool]:
        return self.run(conversations.open_conversation, *args, **kwargs)

    def request_outbound(self, *args, **kwargs) -> dict:
        return self.run(conversations.request_outbound, *args, **kwargs)

    def receive_inbound(self, *args, **kwargs) -> InboundOutcome:
        return self.run(conversations.receive_inbound, *args, **kwargs)

    def record_dispatch(self, *args, **kwargs) -> bool:
        return self.run(delivery.record_dispatch, *args, **kwargs)

    def record_status(self, *args, **kwargs) -> bool:
        return self.run(delivery.record_status, *args, **kwargs)

    def mute(self, *args) -> Conversation:
        return self.run(inbox.mute, *args)

    def unmute(self, *args) -> Conversation:
        return self.run(inbox.unmute, *args)

    def leave(self, *args) -> Conversation:
        return self.run(inbox.leave, *args)

    def mark_read(self, *args) -> Conversation:
        return self.run(inbox.mark_read, *args)

    def archive(self, *args) -> Conversation:
        return self.run(inbox.archive, *args)

    def block(self, *args) -> Conversation:
        """Block the number; its key is destroyed after the commit (domain/use_cases_inbox.py)."""
        return self.run(inbox.block, *args)

    def configure_firm(self, *args, **kwargs):
        return self.run(directory.configure_firm, *args, **kwargs)

    def sync_user(self, *args):
        return self.run(directory.sync_user, *args)

    def choose_notifications(self, *args):
        return self.run(directory.choose_notifications, *args)

    def see_notifications(self, *args) -> None:
        self.run(directory.see_notifications, *args)

    def sync_contact(self, *args):
        return self.run(directory.sync_contact, *args)

    def delete_contact(self, *args) -> None:
        self.run(directory.delete_contact, *args)

    def sync_case(self, *args):
        return self.run(directory.sync_case, *args)

    def delete_case(self, *args) -> None:
        self.run(directory.delete_case, *args)
