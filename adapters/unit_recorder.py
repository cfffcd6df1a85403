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

from typing import Any, Mapping, Sequence
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

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

    def select_streams(self, known: Mapping[UUID, int], snapshots_table: str | None
                       ) -> tuple[dict[UUID, StoredEvent], dict[UUID, list[StoredEvent]]]:
        """Many aggregates' stored events in ONE round trip: for each id, the events after
        ``known[id]`` (the version already held, 0 for none), and when nothing is held its
        newest snapshot (from ``snapshots_table``), whose version the events then follow.
        Returns ({id: snapshot}, {id: events in version order})."""
        if not known:
            return {}, {}
        ids, versions = list(known), [known[i] for i in known]
        schema, events = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        if snapshots_table:
            query = SQL("""
WITH wanted AS (SELECT * FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, known)),
snap AS (
    SELECT w.id, w.known, s.originator_version, s.topic, s.state FROM wanted w
    LEFT JOIN LATERAL (SELECT originator_version, topic, state FROM {schema}.{snapshots} s
                       WHERE s.originator_id = w.id AND w.known = 0
                       ORDER BY originator_version DESC LIMIT 1) s ON true)
SELECT true, id, originator_version, topic, state FROM snap WHERE originator_version IS NOT NULL
UNION ALL
SELECT false, e.originator_id, e.originator_version, e.topic, e.state FROM snap
JOIN {schema}.{events} e ON e.originator_id = snap.id
 AND e.originator_version > greatest(snap.known, coalesce(snap.originator_version, 0))
ORDER BY 2, 1 DESC, 3""").format(schema=schema, events=events, snapshots=Identifier(snapshots_table))
        else:
            query = SQL("""
SELECT false, e.originator_id, e.originator_version, e.topic, e.state
FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, known)
JOIN {schema}.{events} e ON e.originator_id = w.id AND e.originator_version > w.known
ORDER BY 2, 3""").format(schema=schema, events=events)
        snapshots: dict[UUID, StoredEvent] = {}
        streams: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (ids, versions), prepare=True)
            for row in curs.fetchall():
                is_snapshot, originator_id, version, topic, state = row.values() if isinstance(row, dict) else row
                stored = StoredEvent(originator_id=originator_id, originator_version=version, topic=topic,
                                     state=bytes(state))
                if is_snapshot:
                    snapshots[originator_id] = stored
                else:
                    streams.setdefault(originator_id, []).append(stored)
        return snapshots, streams


class InMemoryUnitRecorder(POPOApplicationRecorder):
    """For unit tests: the staged writes apply just before the events, under the same lock."""

    keeps_staged_writes = True

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._database_lock:
            self._assert_uniqueness(stored_events)
            for write in kwargs.get("staged_writes") or ():
                write.apply(None)
            return super().insert_events(stored_events, **kwargs)
