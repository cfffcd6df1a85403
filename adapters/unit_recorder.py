"""The event store's recorders, taught to keep a unit of work's other rows (new data keys,
Idempotency-Key answers) in the same transaction as its events, and the carrier sids its
events carry in a keyed table of their own.

``Application.save(*aggregates, staged_writes=[...])`` hands its keyword arguments down
to ``recorder.insert_events``; eventsourcing's PostgreSQL recorder calls ``_insert_events``
inside the transaction, before it locks the events table and inserts. The staged rows are
written there (before the lock, so the table lock is held no longer than before), and a
row that conflicts (a key already there, the same Idempotency-Key answered) fails the whole
transaction with IntegrityError: both are kept, or neither is.

The carrier sid index (``<events table>_carrier_sids``: conversation, sid -> message id, ""
for a dropped text) is what a conversation's aggregate held in memory before: every sid
it ever saw, so that a carrier's retry of a webhook is recognised at any age. In the
aggregate it made every snapshot, cold load and copy grow with the conversation (issue
11); here a unit of work asks for the few sids it decides on (:meth:`select_carrier_sids`)
and the recorder writes the new ones with the events (``carrier_sids=`` of ``save``). Two
writers of one conversation still serialise on its version, so a sid recorded twice can
only be the same fact: the insert ignores a row already there.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from domain.input_policy import CARRIER_SID

TOPIC = "adapters.unit_recorder:PostgresUnitRecorder"  # eventsourcing's APPLICATION_RECORDER_TOPIC
SidKey = tuple[UUID, str]  # (conversation id, carrier sid)
BACKFILL_CHUNK = 5000  # stored events read at a time by the backfill
# The stored events that carry a carrier sid (a text received, dispatched, dropped).
SID_TOPICS = tuple(f"domain.conversation:Conversation.{name}"
                   for name in ("InboundReceived", "MessageDispatched", "BlockedTextDropped"))


class PostgresUnitRecorder(PostgresApplicationRecorder):
    keeps_staged_writes = True  # domain/texting.py refuses a recorder that would drop them

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.enable_db_functions:  # that path never calls _insert_events
            raise ProgrammingError("POSTGRES_ENABLE_DB_FUNCTIONS would drop a unit of work's staged writes")
        schema = Identifier(self.datastore.schema)
        self.carrier_sids_table = f"{self.events_table_name}_carrier_sids"
        sids = Identifier(self.carrier_sids_table)
        # Created with the events table (CREATE_TABLE); `firmtext migrate` fills it from the
        # events an older release stored (firmtext/commands/migrate.py).
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{sids} (conversation_id uuid NOT NULL, sid text NOT NULL, "
            "message_id text NOT NULL, PRIMARY KEY (conversation_id, sid))").format(schema=schema, sids=sids))
        self._insert_sids = SQL(
            "INSERT INTO {schema}.{sids} (conversation_id, sid, message_id) "
            "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
        ).format(schema=schema, sids=sids).as_string()  # text: composed once, not at every execute
        self._select_sids = SQL(
            "SELECT s.conversation_id, s.sid, s.message_id FROM unnest(%s::uuid[], %s::text[]) AS w(c, sid) "
            "JOIN {schema}.{sids} s ON s.conversation_id = w.c AND s.sid = w.sid").format(
                schema=schema, sids=sids).as_string()
        self._streams_queries: dict[str | None, str] = {}

    def _insert_events(self, curs, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        writes = kwargs.get("staged_writes") or ()
        sids: Mapping[SidKey, str] = kwargs.get("carrier_sids") or {}
        if writes or sids:
            # A nested pipeline block syncs on exit, so a conflicting row raises here.
            with curs.connection.pipeline():
                for write in writes:
                    write.apply(curs)
                if sids:
                    curs.execute(self._insert_sids, ([c for c, _ in sids], [s for _, s in sids], list(sids.values())),
                                 prepare=True)
        super()._insert_events(curs, stored_events, **kwargs)

    def backfill_carrier_sids(self, conn) -> int | None:
        """Once per database (the ``backfills`` row says it ran): the sids of the events an
        older release stored, when conversations kept them in the aggregate. Returns the rows
        added, or None when it had run already. ``conn``: ``firmtext migrate``'s connection, which
        holds the migration lock. An older release's process still writing meanwhile would
        store sids this misses: upgrade by stopping it first (`firmtext up` migrates, then
        starts)."""
        schema = Identifier(self.datastore.schema)
        with conn.transaction():
            if not conn.execute("INSERT INTO backfills (name, rows) VALUES ('carrier_sids', 0) "
                                "ON CONFLICT DO NOTHING RETURNING name").fetchone():
                return None
            # Decoded here, not with PostgreSQL's jsonb: a carrier's answer may have put a NUL
            # (\u0000, which jsonb refuses) in a stored event, and one such event must not stop
            # the migration. Sids outside the carrier's grammar are left out, as the unit does.
            added = 0
            with conn.cursor(name="carrier_sid_backfill") as stored:  # read in chunks, not all at once
                stored.execute(SQL("SELECT originator_id, state FROM {schema}.{events} WHERE topic = ANY(%s)").format(
                    schema=schema, events=Identifier(self.events_table_name)), (list(SID_TOPICS),))
                while rows := stored.fetchmany(BACKFILL_CHUNK):
                    found: dict[SidKey, str] = {}
                    for originator_id, state in rows:
                        data = json.loads(bytes(state))
                        sid = data.get("carrier_sid")
                        if isinstance(sid, str) and CARRIER_SID.fullmatch(sid):
                            found.setdefault((originator_id, sid), str(data.get("message_id") or ""))
                    if found:
                        added += conn.execute(self._insert_sids, ([c for c, _ in found], [s for _, s in found],
                                                                  list(found.values()))).rowcount
            conn.execute("UPDATE backfills SET rows = %s WHERE name = 'carrier_sids'", (added,))
        return added

    def select_carrier_sids(self, keys: Sequence[SidKey]) -> dict[SidKey, str]:
        """Of ``keys``, the sids already recorded: {(conversation, sid): message id or ""}."""
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_sids, ([c for c, _ in keys], [s for _, s in keys]), prepare=True)
            return {(r["conversation_id"], r["sid"]): r["message_id"] for r in curs.fetchall()}  # dict rows

    def _streams_query(self, snapshots_table: str | None) -> str:
        """:meth:`select_streams`' statement as text (composed once per snapshots table)."""
        schema, events = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        if snapshots_table:
            return SQL("""
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
ORDER BY 2, 1 DESC, 3""").format(
                schema=schema, events=events, snapshots=Identifier(snapshots_table)).as_string()
        return SQL("""
SELECT false, e.originator_id, e.originator_version, e.topic, e.state
FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, known)
JOIN {schema}.{events} e ON e.originator_id = w.id AND e.originator_version > w.known
ORDER BY 2, 3""").format(schema=schema, events=events).as_string()

    def select_streams(self, known: Mapping[UUID, int], snapshots_table: str | None
                       ) -> tuple[dict[UUID, StoredEvent], dict[UUID, list[StoredEvent]]]:
        """Many aggregates' stored events in ONE round trip: for each id, the events after
        ``known[id]`` (the version already held, 0 for none), and when nothing is held its
        newest snapshot (from ``snapshots_table``), whose version the events then follow.
        Returns ({id: snapshot}, {id: events in version order})."""
        if not known:
            return {}, {}
        ids, versions = list(known), [known[i] for i in known]
        query = self._streams_queries.get(snapshots_table)
        if query is None:
            query = self._streams_queries[snapshots_table] = self._streams_query(snapshots_table)
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

    def __init__(self) -> None:
        super().__init__()
        self._carrier_sids: dict[SidKey, str] = {}

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._database_lock:
            self._assert_uniqueness(stored_events)
            for write in kwargs.get("staged_writes") or ():
                write.apply(None)
            for key, message_id in (kwargs.get("carrier_sids") or {}).items():
                self._carrier_sids.setdefault(key, message_id)
            return super().insert_events(stored_events, **kwargs)

    def select_carrier_sids(self, keys: Sequence[SidKey]) -> dict[SidKey, str]:
        with self._database_lock:
            return {k: self._carrier_sids[k] for k in keys if k in self._carrier_sids}
