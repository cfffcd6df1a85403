"""The event store's recorders, taught to keep a unit of work's other rows (new data keys,
Idempotency-Key answers) in the same transaction as its events.

``Application.save(*aggregates, staged_writes=[...])`` hands its keyword arguments down
to ``recorder.insert_events``; eventsourcing's PostgreSQL recorder calls ``_insert_events``
inside the transaction, before it locks the events table and inserts. The staged rows are
written there (before the lock, so the table lock is held no longer than before), and a
row that conflicts (a key already there, the same Idempotency-Key answered) fails the whole
transaction with IntegrityError: both are kept, or neither is.
"""
from __future__ import annotations

from typing import Any, Sequence

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder

TOPIC = "adapters.unit_recorder:PostgresUnitRecorder"  # eventsourcing's APPLICATION_RECORDER_TOPIC


class PostgresUnitRecorder(PostgresApplicationRecorder):
    keeps_staged_writes = True  # domain/texting.py refuses a recorder that would drop them

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.enable_db_functions:  # that path never calls _insert_events
            raise ProgrammingError("POSTGRES_ENABLE_DB_FUNCTIONS would drop a unit of work's staged writes")

    def _insert_events(self, curs, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        writes = kwargs.get("staged_writes") or ()
        if writes:
            # A nested pipeline block syncs on exit, so a conflicting row raises here.
            with curs.connection.pipeline():
                for write in writes:
                    write.apply(curs)
        super()._insert_events(curs, stored_events, **kwargs)


class InMemoryUnitRecorder(POPOApplicationRecorder):
    """For unit tests: the staged writes apply just before the events, under the same lock."""

    keeps_staged_writes = True

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._database_lock:
            self._assert_uniqueness(stored_events)
            for write in kwargs.get("staged_writes") or ():
                write.apply(None)
            return super().insert_events(stored_events, **kwargs)
