"""The unit of work: what one decision (or one group commit's many) loads, stores and sets off.

A use case receives the unit explicitly: ``uow.get`` loads (once per unit: commands in
one unit see each other's changes), ``uow.save`` only collects, and nothing is stored
until :meth:`UnitOfWork.commit` writes every collected event, every fresh data key and
every staged row in ONE transaction. Effects that must not happen unless that
transaction commits (a key's destruction) are registered with ``after_commit`` and run
only then; a unit that is dropped instead leaves no trace. Retrying a lost race is the
caller's loop (``Texting.run``): each attempt is a new unit on fresh state.

The carrier sids a conversation has seen are not in its aggregate (they would make it
grow with every text): :meth:`carrier_sid` asks the event store's sid index, and commit
records the sids of the unit's new events there, in the same transaction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.conversation import Conversation, firms_open
from domain.directory import Firm
from domain.ids import firm_id_of
from domain.input_policy import CARRIER_SID
from domain.ports import Sealer, StagedWrite
from domain.scopes import conversation_scope

if TYPE_CHECKING:  # the event store the unit writes to
    from domain.texting import Texting


class UnitOfWork:
    def __init__(self, store: Texting, sealer: Sealer, fresh_keys: bool = True) -> None:
        self.store, self.sealer = store, sealer
        # fresh_keys=False on a retry: a scope may have got its key meanwhile, so look it up.
        self._fresh_keys = fresh_keys
        self._loaded: dict[UUID, Any] = {}
        self._absent: set[UUID] = set()  # preloaded and found not to exist (until saved)
        self._changed: dict[UUID, Any] = {}  # in first-save order: the order of the log
        self._new_keys: dict[str, bytes] = {}
        self._staged: list[StagedWrite] = []
        self._after: list[Callable[[], None]] = []
        self._sids: dict[tuple[UUID, str], str | None] = {}  # looked up: message id, "" dropped, None never
        self.committed = False

    # -- loading ------------------------------------------------------------------
    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate (the unit's own instance, with its unsaved changes), or None."""
        if aggregate_id not in self._loaded:
            if aggregate_id in self._absent:
                return None
            try:
                self._loaded[aggregate_id] = self.store.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        return self._loaded[aggregate_id]

    def preload(self, ids: list[UUID], sids: list[tuple[UUID, str]] = ()) -> None:
        """Load the aggregates of ``ids`` the unit does not hold yet in one round trip
        (``Texting.load_many``), the data keys of the conversations among them in another,
        and which of ``sids`` ((conversation, carrier sid) pairs) were seen in a third, so
        the use cases' ``get``, sealing and :meth:`carrier_sid` read none. Safe however stale:
        a concurrent writer still makes :meth:`commit` fail, and the unit is redone."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._loaded and i not in self._absent]
        if wanted:
            found = self.store.load_many(wanted)
            self._loaded.update(found)
            self._absent.update(i for i in wanted if i not in found)
            self.sealer.preload([conversation_scope(i) for i, agg in found.items() if isinstance(agg, Conversation)])
        unknown = [key for key in dict.fromkeys(sids) if key not in self._sids]
        if unknown:
            seen = self.store.recorder.select_carrier_sids(unknown)
            self._sids.update((key, seen.get(key)) for key in unknown)

    def carrier_sid(self, conversation_id: UUID, sid: str) -> str | None:
        """What the conversation recorded under the carrier's ``sid``: the message id, "" for
        a text it dropped, None when it never saw the sid (this unit's unsaved events too)."""
        held = self._loaded.get(conversation_id)
        for event in getattr(held, "pending_events", ()):
            if getattr(event, "carrier_sid", None) == sid:
                return getattr(event, "message_id", "")
        key = (conversation_id, sid)
        if key not in self._sids:
            self._sids[key] = self.store.recorder.select_carrier_sids([key]).get(key)
        return self._sids[key]

    def firm(self, firm_id: str) -> Firm | None:
        return self.get(firm_id_of(firm_id))

    def any_conversation(self, conversation_id: UUID) -> Conversation | None:
        """The conversation whatever its firm or state (for the carrier's and the sender's side)."""
        conv = self.get(conversation_id)
        return conv if isinstance(conv, Conversation) else None

    def conversation(self, firm_id: str, conversation_id: UUID) -> Conversation:
        """The firm's open conversation, or NotFound (other firms' and blocked ones alike)."""
        return firms_open(self.get(conversation_id), firm_id)

    # -- deciding -----------------------------------------------------------------
    def save(self, *aggregates: Any) -> None:
        """Collect the aggregates' new events for :meth:`commit`; refuse, before anything is
        stored, a command whose events the shared log could not hold."""
        self.store.ensure_events_fit(*aggregates)
        for agg in aggregates:
            self._loaded[agg.id] = self._changed[agg.id] = agg

    def new_scope(self, scope: str) -> None:
        """A scope that never had a key (a new conversation): its key is stored with the events."""
        if self._fresh_keys and scope not in self._new_keys:
            self._new_keys[scope] = self.sealer.fresh_key(scope)

    def seal(self, scope: str, plaintext: str) -> str:
        return self.sealer.seal(scope, plaintext, self._new_keys.get(scope))

    def phone_hash(self, firm_id: str, e164: str) -> str:
        return self.sealer.phone_hash(firm_id, e164)

    def stage(self, write: StagedWrite) -> None:
        """Rows to keep in the transaction of the events (e.g. an Idempotency-Key's answer)."""
        self._staged.append(write)

    def after_commit(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` once the unit's transaction has committed, and never otherwise."""
        self._after.append(effect)

    # -- storing ------------------------------------------------------------------
    def _new_sids(self) -> dict[tuple[UUID, str], str]:
        """The carrier sids the unit's new events carry (a text received, dispatched or dropped).
        Only sids of the carrier's grammar: no webhook can present another (it is refused), and
        the carrier's answer to a send is not checked, so a NUL or a kilobyte in it would
        otherwise fail the dispatch's transaction, again at every try."""
        return {(agg.id, event.carrier_sid): getattr(event, "message_id", "") or ""
                for agg in self._changed.values() for event in agg.pending_events
                if isinstance(sid := getattr(event, "carrier_sid", None), str) and CARRIER_SID.fullmatch(sid)}

    def commit(self) -> None:
        """Store everything collected in one transaction, then run the after-commit effects.
        Raises eventsourcing's IntegrityError when a concurrent writer won."""
        if self.committed:
            raise RuntimeError("this unit of work was already committed")
        writes = ([self.sealer.keep_keys(self._new_keys)] if self._new_keys else []) + self._staged
        if self._changed or writes:
            self.store.save(*self._changed.values(), staged_writes=writes, carrier_sids=self._new_sids())
        self.committed = True
        self.sealer.adopt(self._new_keys)
        for effect in self._after:
            effect()
