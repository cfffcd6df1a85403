"""The outbox relay: the event store's notification log, in order, onto Kafka.

At-least-once with deterministic envelopes: the position and the stream hash heads
are committed only after Kafka acknowledged the batch (acks=all, idempotent producer),
so a relay killed at any instant republishes byte-identical envelopes, which
consumers skip by notification id. One relay is active at a time (advisory lock);
others wait as hot standbys.

The relay is pushed, not only polled: it LISTENs on the channel eventsourcing's
PostgreSQL recorder NOTIFYs in every event-storing transaction (PostgreSQL delivers it at
commit), so a stored event leaves for Kafka within a millisecond or two of its commit;
without a notification (LISTEN refused) it still polls every ``idle_sleep`` seconds.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Callable

import psycopg
from psycopg import sql
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from adapters import pg_locks
from domain.texting import Texting
from domain.envelope import GENESIS, build_envelope, encode
from streams.relay_health import HEARTBEAT_SECONDS, describe, record_set_aside, record_state

log = logging.getLogger("firmtext.relay")
BATCH = 1000
# Stream heads the active relay remembers between batches (it is their only writer while it
# holds the relay lock): a conversation that texts again needs no read. Beyond this many,
# the oldest are forgotten and read again when their stream next moves.
HEADS_KEPT = 50_000
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


def chain_envelopes(texting: Texting, notifications: list, heads: dict) -> list[dict]:
    """The envelopes of stored ``notifications``, hash-chained onto ``heads``
    (stream id -> (firm id, version, hash)), which it advances. Pure and deterministic:
    the same stored events and heads always give byte-identical envelopes."""
    envelopes = []
    for n in notifications:
        event = texting.mapper.to_domain_event(n)
        sid = str(event.originator_id)
        firm_id, _version, prev = heads.get(sid, (None, 0, GENESIS))
        firm_id = firm_id or getattr(event, "firm_id", None) or "_system"
        env = build_envelope(domain_event=event, notification_id=n.id, firm_id=firm_id, prev_hash=prev)
        heads[sid] = (firm_id, env["stream_version"], env["hash"])
        envelopes.append(env)
    return envelopes


class Relay:
    """Moves stored events to ``topic``. Use :meth:`run` in the relay process.

    Never crash-loops: a failure (Kafka or PostgreSQL away, a record refused) is
    reported in ``relay_status``, waited out with capped backoff, and the batch is
    read again from the committed position. A record the log refuses for good (too
    large) is set aside (``relay_set_aside``) and the rest go on.
    """

    def __init__(self, texting: Texting, database_url: str, producer_factory: Callable[[], AIOKafkaProducer],
                 topic: str, name: str = "events") -> None:
        self.texting, self.database_url, self.producer_factory = texting, database_url, producer_factory
        self.topic, self.name = topic, name
        self.producer: AIOKafkaProducer | None = None
        self.published = self.set_aside = self.failures = 0
        # What this relay committed last, while it holds the lock on one connection: its
        # position and the heads of the streams it moved. Forgotten whenever it starts over
        # (any failure), so after one it reads both from PostgreSQL again.
        self._position: int | None = None
        self._heads: OrderedDict[str, tuple] = OrderedDict()

    # -- synchronous database side (run in a thread) ------------------------------
    def _read_batch(self, conn: psycopg.Connection) -> tuple[list, dict]:
        """The next notifications after the committed position, and the heads of their
        streams as committed (stream id -> (firm id, version, hash))."""
        position = self._position
        if position is None:
            row = conn.execute("SELECT notification_id FROM relay_position WHERE name = %s", (self.name,)).fetchone()
            position = self._position = row[0] if row else 0
        notifications = self.texting.recorder.select_notifications(start=position + 1, limit=BATCH)
        ids = {str(n.originator_id) for n in notifications}
        heads = {i: self._heads[i] for i in ids if i in self._heads}
        unknown = [i for i in ids if i not in heads]
        if unknown:
            rows = conn.execute("SELECT stream_id::text, firm_id, version, hash FROM stream_heads "
                                "WHERE stream_id = ANY(%s::uuid[])", (unknown,)).fetchall()
            heads.update({r[0]: (r[1], r[2], r[3]) for r in rows})
        return list(notifications), heads

    def _read_and_chain(self, conn: psycopg.Connection) -> tuple[list[dict], dict]:
        """The next batch's envelopes, and the heads they advanced (one trip to a thread)."""
        notifications, heads = self._read_batch(conn)
        return (chain_envelopes(self.texting, notifications, heads) if notifications else []), heads

    def _committed(self, envelopes: list[dict], heads: dict) -> None:
        """Remember what the batch just committed."""
        self._position = envelopes[-1]["notification_id"]
        for sid in {env["stream_id"] for env in envelopes}:
            self._heads[sid] = heads[sid]
            self._heads.move_to_end(sid)
        while len(self._heads) > HEADS_KEPT:
            self._heads.popitem(last=False)

    def _forget(self) -> None:
        self._position = None
        self._heads.clear()

    def _commit(self, conn: psycopg.Connection, envelopes: list[dict], refused: list[tuple[dict, int, str]]) -> None:
        last = {}
        for env in envelopes:
            last[env["stream_id"]] = env
        with conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stream_heads (stream_id, firm_id, version, hash) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, hash = EXCLUDED.hash",
                    [(e["stream_id"], e["firm_id"], e["stream_version"], e["hash"]) for e in last.values()])
            for env, size, reason in refused:
                record_set_aside(conn, env, size, reason)
            conn.execute(
                "INSERT INTO relay_position (name, notification_id) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET notification_id = EXCLUDED.notification_id",
                (self.name, envelopes[-1]["notification_id"]))

    # -- the loop ---------------------------------------------------------------------
    async def relay_once(self, conn: psycopg.Connection) -> int:
        """Publish the next batch; returns how many events went out (set-aside ones included)."""
        envelopes, heads = await asyncio.to_thread(self._read_and_chain, conn)
        if not envelopes:
            return 0
        futures, refused = [], []
        for env in envelopes:
            raw = encode(env)
            try:
                futures.append(await self.producer.send(self.topic, raw, key=env["firm_id"].encode()))
            except MessageSizeTooLargeError as exc:  # refused before it left: for good
                log.error("setting aside notification %s (%s, %d bytes): the log refuses it (%s)",
                          env["notification_id"], env["type"], len(raw), type(exc).__name__)
                refused.append((env, len(raw), describe(exc)))
        await asyncio.gather(*futures)
        await asyncio.to_thread(self._commit, conn, envelopes, refused)
        self._committed(envelopes, heads)
        self.published += len(envelopes) - len(refused)
        self.set_aside += len(refused)
        return len(envelopes)

    async def run(self, stop: asyncio.Event, idle_sleep: float = 0.25) -> None:
        """Publish until ``stop`` is set, surviving every failure with capped backoff."""
        while not stop.is_set():
            try:
                await self._serve(stop, idle_sleep)
            except Exception as exc:  # anything: report, wait, start over from the committed position
                self.failures += 1
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(self.failures - 1, 10))
                log.warning("relay failed (%s); retrying in %.1f s", describe(exc), delay)
                await asyncio.to_thread(self._report_quietly, "failing", f"{describe(exc)}; retrying in {delay:.0f} s")
                await self._close_producer()
                await _sleep_unless(stop, delay)
        await self._close_producer()

    async def _serve(self, stop: asyncio.Event, idle_sleep: float) -> None:
        self._forget()  # starting over: another relay may have moved on meanwhile
        conn = await asyncio.to_thread(psycopg.connect, self.database_url, autocommit=True, connect_timeout=5)
        listener = None
        try:
            await self._acquire_lock(conn, stop)
            if stop.is_set():
                return
            listener = await self._listen()
            if self.producer is None:
                producer = self.producer_factory()
                await producer.start()
                self.producer = producer
            log.info("relay active: publishing to %s", self.topic)
            await asyncio.to_thread(record_state, conn, self.name, "active", "")
            beat = time.monotonic()
            while not stop.is_set():
                moved = await self.relay_once(conn)
                self.failures = 0
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    await asyncio.to_thread(record_state, conn, self.name, "active", "")
                    beat = time.monotonic()
                if moved == 0:
                    await self._wait_for_events(listener, stop, idle_sleep)
        finally:
            if listener is not None:
                await listener.close()
            await asyncio.to_thread(conn.close)

    async def _listen(self) -> psycopg.AsyncConnection | None:
        """A connection LISTENing for stored events, or None (then the relay only polls)."""
        channel = getattr(self.texting.recorder, "channel_name", None)
        if channel is None:  # not PostgreSQL's recorder: nothing to listen to
            return None
        listener = None
        try:
            listener = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True, connect_timeout=5)
            await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            return listener
        except psycopg.Error as exc:
            log.warning("relay cannot LISTEN (%s): polling only", describe(exc))
            if listener is not None:
                await listener.close()
            return None

    @staticmethod
    async def _wait_for_events(listener: psycopg.AsyncConnection | None, stop: asyncio.Event,
                               seconds: float) -> None:
        """Until an event-storing transaction commits, ``stop`` is set (seen within half a
        second) or ``seconds`` pass. A notification sent while the relay was busy waits on
        the connection, so none is missed; an extra one only costs an empty read. A broken
        listener raises: the relay starts over."""
        if listener is None:
            await _sleep_unless(stop, seconds)
            return
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            async for _ in listener.notifies(timeout=min(remaining, 0.5), stop_after=1):
                return

    async def _acquire_lock(self, conn: psycopg.Connection, stop: asyncio.Event) -> None:
        """One relay active at a time; the others stand by (silently: only the active one
        writes ``relay_status``, so a standby never hides the active relay's state)."""
        while not stop.is_set():
            got = await asyncio.to_thread(
                lambda: conn.execute("SELECT pg_try_advisory_lock(%s)", (pg_locks.RELAY,)).fetchone()[0])
            if got:
                return
            await _sleep_unless(stop, 1.0)

    def _report_quietly(self, state: str, detail: str) -> None:
        """Best effort: PostgreSQL itself may be what failed."""
        try:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=3) as conn:
                record_state(conn, self.name, state, detail)
        except psycopg.Error:
            pass

    async def _close_producer(self) -> None:
        # A producer that failed may hold a broken idempotence state: start afresh.
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 10)
            except Exception as exc:
                log.debug("closing the failed producer: %s", describe(exc))


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
