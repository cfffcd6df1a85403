"""Applies batches of events to projections in PostgreSQL, exactly once per projection.

Each projection schema has a ``tracking`` table: per Kafka partition, the last applied
notification id and offset. Rows and tracking commit in one transaction, so a batch is
either wholly applied or not at all; an event at or below the tracked notification id
is a redelivery (or a relay republish) and is skipped.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql

from adapters import pg_locks
from adapters.schema import NOTIFY_CHANNEL
from projections.base import Projection, Screen, apply_new
from projections.pg_store import PgStore, statement
from projections.preload import preload_all
from projections.speculation import WARM_KEYS, Guess, WarmRows, settle_all, start_tracking_oids
from projections.unknown import UPSERT as UNKNOWN_UPSERT, counted, unknown_to
from domain.envelope import Event

_TX = psycopg.pq.TransactionStatus
log = logging.getLogger("firmtext.projections")
# Projections whose commits open browser tabs want to hear of (the notification stream
# and the web inbox's live updates). The payload names the firms touched, so a tab of
# one firm is never woken by another firm's traffic; "" means "anyone" (too many to list).
LIVE_PROJECTIONS = frozenset({"notifications", "inbox", "messages"})
NOTIFY_PAYLOAD_MAX = 7000  # PostgreSQL refuses payloads of 8000 bytes and more
# Live batches hold it shared; a rebuild's schema swap holds it exclusively, so no batch
# is ever split between the old and the new schema (projections/rebuild/swap.py).
SWAP_LOCK = pg_locks.SWAP
# With several workers, a partition moves to another worker at a rebalance while the
# first may still be applying a batch of it. Live batches lock their partitions (two-key
# advisory locks: this class, the partition) before reading tracking, so the second
# writer waits, then sees what the first committed and skips it: never applied twice.
PARTITION_LOCK = pg_locks.PROJECTION_PARTITION


def ensure_schema(conn: psycopg.Connection, projection: Projection, schema: str | None = None) -> bool:
    """Create the projection's schema and tables if missing. True when created."""
    schema = schema or projection.schema
    exists = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)).fetchone()
    if exists:
        return False
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(projection.ddl.replace("{schema}", f'"{schema}"'))
        conn.execute(sql.SQL("CREATE TABLE {}.tracking (partition int PRIMARY KEY, notification_id bigint NOT NULL, "
                             "kafka_offset bigint NOT NULL)").format(sql.Identifier(schema)))
    return True


@dataclass
class PreparedBatch:
    """A fresh-mode batch applied in memory: per projection (store, row changes, tracking
    moves), and the events set aside, to be written in one transaction."""

    tables: list = field(default_factory=list)
    failures: list[tuple] = field(default_factory=list)


FAILURE_INSERT = ("INSERT INTO projection_failures (projection, partition, kafka_offset, notification_id, event_id, "
                  "event_type, error) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")


def failure_row(projection: Projection, event: Event, exc: Exception) -> tuple:
    """The projection_failures row for an event ``projection`` could not apply (logged too)."""
    log.error("projection %s cannot apply %s (partition %s, offset %s): %s: %s", projection.name,
              event.type, event.partition, event.offset, type(exc).__name__, str(exc)[:200])
    return (projection.name, event.partition, event.offset, event.notification_id, event.envelope.get("event_id"),
            event.type, f"{type(exc).__name__}: {str(exc)[:500]}")


def tracked(conn: psycopg.Connection, schema: str) -> dict[int, tuple[int, int]]:
    """partition -> (notification_id, kafka_offset) last applied."""
    rows = conn.execute(statement(("tracked", schema), lambda: sql.SQL(
        "SELECT partition, notification_id, kafka_offset FROM {}.tracking").format(sql.Identifier(schema)))).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def tracked_all(conn: psycopg.Connection, schemas: dict[str, str]) -> dict[str, dict[int, tuple[int, int]]]:
    """:func:`tracked` of every schema (projection name -> schema) in one query."""
    return start_tracked_all(conn, schemas)()


def start_tracked_all(conn: psycopg.Connection,
                      schemas: dict[str, str]) -> Callable[[], dict[str, dict[int, tuple[int, int]]]]:
    """:func:`tracked_all`, the query sent now and read by the function returned (in a
    pipeline, with whatever else is sent before it is read)."""
    query = statement(("tracked_all", tuple(schemas.items())), lambda: sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::text, partition, notification_id, kafka_offset FROM {}.tracking")
        .format(sql.Literal(name), sql.Identifier(schema)) for name, schema in schemas.items()))
    cur = conn.execute(query)

    def read() -> dict[str, dict[int, tuple[int, int]]]:
        found: dict[str, dict[int, tuple[int, int]]] = {name: {} for name in schemas}
        for name, partition, notification_id, offset in cur.fetchall():
            found[name][partition] = (notification_id, offset)
        return found
    return read


def notify_payload(events: list[Event]) -> str:
    """The firms of a batch as a JSON list, or "" (wake everyone) when it would not fit."""
    payload = json.dumps(sorted({e.firm_id for e in events}))
    return payload if len(payload.encode()) <= NOTIFY_PAYLOAD_MAX else ""


class ProjectionWriter:
    """Owns one connection; ``apply`` one batch at a time."""

    def __init__(self, conn: psycopg.Connection, projections: list[Projection],
                 schemas: dict[str, str] | None = None, fresh: bool = False, keys=None,
                 keep_rows: bool = False) -> None:
        # Without ``keys`` (the search digester) keyed projections are left out altogether:
        # neither applied nor counted by resume_offsets (the worker hands its keys to both).
        self.conn, self.fresh, self.keys = conn, fresh, keys
        self.projections = [p for p in projections if keys is not None or not p.keyed]
        self.schemas = schemas or {p.name: p.schema for p in projections}
        self.unknown = unknown_to(projections)
        # In fresh (rebuild) mode rows and tracking stay in memory across batches; rows the
        # schemas already hold (a resumed rebuild) are read once, here.
        self._stores = {p.name: PgStore(conn, self.schemas[p.name], fresh=True) for p in projections} if fresh else {}
        self._tracking: dict[str, dict[int, tuple[int, int]]] = {}
        # Live mode: the last committed batch's stores, tracking and tracking oids, so the
        # next batch can run once against them (projections/speculation.py).
        self._warm: WarmRows | None = None
        # Off by default: in session 13's clean-clone run the fault drills with two workers
        # lost a status update of one text in three drills with it on, cause not yet found
        # (docs/architecture.md, session 13). bench/projector.py and its tests turn it on.
        self.keep_rows = keep_rows
        # Per projection batch: "warm" (its speculative run stood), "undone" (runs undone
        # and run again), "cold" (read as before: no kept rows, or they could not be trusted);
        # per batch, "dropped": a speculative run thrown away (the tracking had moved).
        self.runs: Counter = Counter()
        # False after a batch found the tracking moved under it (several workers share the
        # partitions): the next batch does not speculate, and only checks again.
        self._trusted = True
        self.set_aside: list[tuple] = []  # fresh mode: failure rows written so far, for the report
        for p in projections if fresh else ():
            self._stores[p.name].load(p.tables)
            self._tracking[self.schemas[p.name]] = tracked(conn, self.schemas[p.name])

    def _tracking_of(self, schema: str) -> dict[int, tuple[int, int]]:
        if self.fresh:
            return self._tracking.setdefault(schema, tracked(self.conn, schema))
        return tracked(self.conn, schema)

    def apply(self, events: list[Event]) -> int:
        """Apply ``events`` to every projection in one transaction (redeliveries are skipped)."""
        if self.fresh:
            self.write(self.prepare(events))
            return len(events)
        try:
            self._apply_live(events, isolate=False)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the database is away: retrying later is the only answer
        except Exception as exc:
            # One bad event must not stop every firm on the partition: find it, set it
            # aside in projection_failures, apply everything else.
            log.error("a batch failed (%s); applying it event by event", type(exc).__name__)
            self._apply_live(events, isolate=True)
        return len(events)

    def _apply_live(self, events: list[Event], isolate: bool) -> None:
        if isolate or not self._owns_transactions():
            # Isolate mode: a savepoint per event, unpipelined. Inside a caller's transaction
            # (the rebuild's swap catches up in the one that holds SWAP_LOCK): a savepoint,
            # never a COMMIT of the caller's work.
            with nullcontext() if isolate else self.conn.pipeline():
                with self.conn.transaction():
                    self._live_batch(events, isolate)
            return
        # The usual path is one pipeline, its transaction spelled out: BEGIN goes with the
        # locks, the tracking read and the preload's first queries, COMMIT with the writes,
        # so a batch usually costs two round trips. (psycopg's transaction() in a pipeline
        # syncs on entering and twice on leaving: five.) Whatever fails, in Python or in
        # PostgreSQL (raised at the sync, COMMIT then skipped), leaves nothing behind.
        try:
            with self.conn.pipeline():
                self.conn.execute("BEGIN")
                kept = self._live_batch(events, isolate, warm=self.keep_rows)
                self.conn.execute("COMMIT")
        except BaseException:
            status = self.conn.info.transaction_status
            if not (self.conn.closed or self.conn.broken) and status in (_TX.INTRANS, _TX.INERROR):
                self.conn.execute("ROLLBACK")
            raise
        if kept is not None and kept.size() <= WARM_KEYS:  # committed: these rows are what PostgreSQL holds
            self._warm = kept

    def _owns_transactions(self) -> bool:
        """Whether the writer may BEGIN and COMMIT itself: an autocommit connection with no
        transaction open (the worker's). Otherwise a batch is a savepoint of the caller's."""
        return self.conn.autocommit and self.conn.info.transaction_status == _TX.IDLE

    def _live_batch(self, events: list[Event], isolate: bool, warm: bool = False) -> WarmRows | None:
        """Apply one batch inside the open transaction. ``warm``: the writer owns the
        transaction, so it may run the batch on the last batch's rows, and returns what to
        keep once the caller has committed."""
        kept, self._warm = self._warm if warm else None, None  # unless it commits, nothing is kept
        guesses: list[Guess] = []
        screen = Screen(events)
        # Isolate mode is not inside a pipeline: it opens one where the usual path's is.
        with self.conn.pipeline() if isolate else nullcontext():  # locks, tracking: one trip
            self.conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (SWAP_LOCK,))
            # One statement, partitions in one order everywhere (no deadlock).
            self.conn.execute("SELECT pg_advisory_xact_lock(%s, p) FROM unnest(%s::int[]) AS p",
                              (PARTITION_LOCK, sorted({e.partition for e in events})))
            read_tracking = start_tracked_all(self.conn, self.schemas)
            read_oids = start_tracking_oids(self.conn, self.schemas) if warm else None
            if kept is not None and self._trusted:
                # Run once on the kept rows; the rows it lacked are read in this same trip.
                preloaded = kept.stores
                guesses = [Guess(p, store, events, screen, self.keys) for p, store in zip(self.projections, preloaded)]
                for guess in guesses:
                    guess.run(kept.positions[guess.projection.name])
            elif not isolate:
                # Every row the batch reads, for every projection, the first round's queries
                # in the same round trip as the locks and the tracking read. Redeliveries are
                # not known yet: their rows are read too, and apply_new passes them over.
                preloaded = [PgStore(self.conn, self.schemas[p.name]) for p in self.projections]
                preload_all(list(zip(self.projections, preloaded)), events, keys=self.keys)
            before = read_tracking()
            oids = read_oids() if read_oids else ()
        if kept is not None:
            self._trusted = oids == kept.oids and all(
                before[p.name] == kept.positions[p.name] for p in self.projections)
        if guesses and not self._trusted:
            # Another writer moved some tracking, or a rebuild swapped a schema in: the kept
            # rows may be stale. Run cold.
            log.debug("projection tracking moved under the writer: reading the batch's rows afresh")
            for guess in guesses:
                guess.reads()  # their results, read and dropped with the stores
            guesses = []
            self.runs["dropped"] += 1
            preloaded = [PgStore(self.conn, self.schemas[p.name]) for p in self.projections]
            preload_all(list(zip(self.projections, preloaded)), events, keys=self.keys)
        cold = {g.projection.name for g in settle_all(guesses, before)} if guesses else None
        if not isolate:
            self.runs["warm"] += len(guesses) - len(cold or ())
            self.runs["undone"] += sum(g.undone for g in guesses)
            self.runs["cold"] += len(self.projections) - len(guesses) + len(cold or ())
        live = False
        unknown = counted(events, self.unknown, lambda e: any(  # not applied before by some projection
            e.notification_id > positions.get(e.partition, (0, -1))[0] for positions in before.values()))
        # Each projection reads and writes only its own schema, so their writes can wait
        # for one write phase after all of them have applied the batch (isolate mode
        # writes each event inside its savepoint instead).
        stores, tracking, after = [], {}, {}
        for at, projection in enumerate(self.projections):
            schema = self.schemas[projection.name]
            if cold is not None and projection.name not in cold:  # its speculative run stood
                guess = guesses[at]
                stores.append(guess.store)
                tracking[schema], after[projection.name] = guess.moved, guess.positions
                live = live or bool(guess.moved and projection.name in LIVE_PROJECTIONS)
                continue
            positions = after[projection.name] = before[projection.name]
            touched = {}
            for chunk in ([e] for e in events) if isolate else [events]:
                try:
                    with self.conn.transaction() if isolate else nullcontext():  # a savepoint per event
                        store = PgStore(self.conn, schema) if isolate else preloaded[at]
                        touched.update(apply_new(projection, store, positions, chunk, screen=screen, keys=self.keys))
                        if isolate:
                            store.flush()
                        else:
                            stores.append(store)
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    raise
                except Exception as exc:
                    if not isolate:
                        raise
                    touched.update(self._set_aside(projection, chunk[0], exc, positions))
            tracking[schema] = touched
            live = live or bool(touched and projection.name in LIVE_PROJECTIONS)
        # The write phase: one round trip (each table's rows are one statement: PgStore.flush).
        with self.conn.pipeline() if isolate else nullcontext():
            for store in stores:
                store.flush()
            self._track_all(tracking)
            if unknown:
                log.warning("skipping %s event(s) of a type or schema version no projection knows: %s",
                            sum(r[2] for r in unknown), ", ".join(f"{r[0]} v{r[1]}" for r in unknown))
                with self.conn.cursor() as cur:
                    cur.executemany(UNKNOWN_UPSERT, unknown)
            if live:  # delivered at commit, so a woken stream reads the new rows
                self.conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, notify_payload(events)))
        return WarmRows(stores, after, oids) if warm else None

    def _set_aside(self, projection: Projection, event: Event, exc: Exception, positions: dict) -> dict:
        """Record an event the projection cannot apply and move past it."""
        self.conn.execute(FAILURE_INSERT, failure_row(projection, event, exc))
        positions[event.partition] = (event.notification_id, event.offset)
        return {event.partition: positions[event.partition]}

    def prepare(self, events: list[Event]) -> PreparedBatch:
        """Fresh mode, the first half of ``apply``: apply ``events`` in memory and take the
        rows to write. Touches no connection, so it may run while :meth:`write` runs.
        An event a projection cannot apply is set aside, as the live writer does."""
        newest: dict[int, tuple[int, int]] = {}  # partition -> (notification id, offset) newest in the batch
        for event in events:
            if event.notification_id > newest.get(event.partition, (0, -1))[0]:
                newest[event.partition] = (event.notification_id, event.offset)
        prepared = PreparedBatch()
        for projection in self.projections:
            store = self._stores[projection.name]
            positions = self._tracking_of(store.schema)
            # Only the events it handles go through the projection (a rebuild applies millions);
            # those it ignores change nothing but still count as applied, so tracking moves past them.
            handlers = projection.handlers  # (a foreign envelope's type may be a list: unhashable)
            handled = [e for e in events if type(t := e.envelope["type"]) is str and t in handlers]
            touched = apply_new(projection, store, positions, handled,
                                lambda event, exc, p=projection: prepared.failures.append(failure_row(p, event, exc)),
                                keys=self.keys)
            for partition, position in newest.items():
                if position[0] > positions.get(partition, (0, -1))[0]:
                    positions[partition] = touched[partition] = position
            prepared.tables.append((store, store.take_changes(), touched))
        return prepared

    def write(self, prepared: PreparedBatch) -> None:
        """Fresh mode, the second half: write one prepared batch, its set-aside events and its
        tracking in one transaction."""
        with self.conn.transaction():
            tracking: dict[str, dict[int, tuple[int, int]]] = {}
            for store, changes, touched in prepared.tables:
                store.write_changes(changes)
                tracking.setdefault(store.schema, {}).update(touched)
            self._track_all(tracking)
            if prepared.failures:
                with self.conn.cursor() as cur:
                    cur.executemany(FAILURE_INSERT, prepared.failures)
        self.set_aside.extend(prepared.failures)

    def _track_all(self, tracking: dict[str, dict[int, tuple[int, int]]]) -> None:
        """Move every schema's tracking (schema -> partition -> position) in one statement."""
        tracking = {schema: touched for schema, touched in tracking.items() if touched}
        if not tracking:
            return
        schemas = tuple(tracking)
        query = statement(("track_all", schemas), lambda: sql.SQL("WITH ") + sql.SQL(", ").join(
            sql.SQL("{} AS (INSERT INTO {}.tracking (partition, notification_id, kafka_offset) "
                    "SELECT * FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) "
                    "ON CONFLICT (partition) DO UPDATE SET notification_id = EXCLUDED.notification_id, "
                    "kafka_offset = EXCLUDED.kafka_offset)").format(sql.Identifier(f"t{i}"), sql.Identifier(schema))
            for i, schema in enumerate(schemas)) + sql.SQL(" SELECT 1"))
        params = []
        for schema in schemas:
            touched = tracking[schema]
            params += [list(touched), [n for n, _ in touched.values()], [o for _, o in touched.values()]]
        self.conn.execute(query, params)

    def flush_seconds(self) -> float:
        """Fresh mode: time spent writing to PostgreSQL so far (the rest of ``apply`` is Python)."""
        return sum(store.flush_seconds for store in self._stores.values())

    def resume_offsets(self) -> dict[int, int]:
        """partition -> next offset to read, the earliest any projection needs."""
        per_projection = [tracked(self.conn, self.schemas[p.name]) for p in self.projections]
        partitions = {part for positions in per_projection for part in positions}
        # A projection that never saw a partition needs it from the start.
        return {part: min(positions[part][1] + 1 if part in positions else 0 for positions in per_projection)
                for part in partitions}
