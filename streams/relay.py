"""The outbox relay: the event store's notification log, in order, onto Kafka.

At-least-once with deterministic envelopes: the position and the stream hash heads
are committed only after Kafka acknowledged the batch (acks=all, idempotent producer),
so a relay killed at any instant republishes byte-identical envelopes, which
consumers skip by notification id. One relay is active at a time (advisory lock);
others wait as hot standbys.
"""
from __future__ import annotations

import asyncio
import logging

import psycopg
from aiokafka import AIOKafkaProducer

from domain.texting import Texting
from streams.envelope import GENESIS, build_envelope, encode

log = logging.getLogger("firmtext.relay")
LOCK_KEY = 7_013_001  # pg advisory lock id of "the relay"
BATCH = 1000


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
    """Moves stored events to ``topic``. Use :meth:`run` in the relay process."""

    def __init__(self, texting: Texting, database_url: str, producer: AIOKafkaProducer, topic: str,
                 name: str = "events") -> None:
        self.texting, self.database_url, self.producer = texting, database_url, producer
        self.topic, self.name = topic, name

    # -- synchronous database side (run in a thread) ------------------------------
    def _read_batch(self, conn: psycopg.Connection) -> tuple[list, dict]:
        row = conn.execute("SELECT notification_id FROM relay_position WHERE name = %s", (self.name,)).fetchone()
        position = row[0] if row else 0
        notifications = self.texting.recorder.select_notifications(start=position + 1, limit=BATCH)
        ids = list({str(n.originator_id) for n in notifications})
        heads = {}
        if ids:
            rows = conn.execute("SELECT stream_id::text, firm_id, version, hash FROM stream_heads "
                                "WHERE stream_id = ANY(%s::uuid[])", (ids,)).fetchall()
            heads = {r[0]: (r[1], r[2], r[3]) for r in rows}
        return list(notifications), heads

    def _commit(self, conn: psycopg.Connection, envelopes: list[dict]) -> None:
        last = {}
        for env in envelopes:
            last[env["stream_id"]] = env
        with conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stream_heads (stream_id, firm_id, version, hash) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, hash = EXCLUDED.hash",
                    [(e["stream_id"], e["firm_id"], e["stream_version"], e["hash"]) for e in last.values()])
            conn.execute(
                "INSERT INTO relay_position (name, notification_id) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET notification_id = EXCLUDED.notification_id",
                (self.name, envelopes[-1]["notification_id"]))

    # -- the loop ---------------------------------------------------------------------
    async def relay_once(self, conn: psycopg.Connection) -> int:
        """Publish the next batch; returns how many events went out."""
        notifications, heads = await asyncio.to_thread(self._read_batch, conn)
        if not notifications:
            return 0
        envelopes = await asyncio.to_thread(chain_envelopes, self.texting, notifications, heads)
        futures = [await self.producer.send(self.topic, encode(e), key=e["firm_id"].encode())
                   for e in envelopes]
        await asyncio.gather(*futures)
        await asyncio.to_thread(self._commit, conn, envelopes)
        return len(envelopes)

    async def run(self, stop: asyncio.Event, idle_sleep: float = 0.02) -> None:
        """Hold the relay lock, then publish until ``stop`` is set."""
        conn = await asyncio.to_thread(psycopg.connect, self.database_url, autocommit=True)
        try:
            while not stop.is_set():
                got = await asyncio.to_thread(
                    lambda: conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0])
                if got:
                    break
                await asyncio.sleep(1.0)
            log.info("relay active: publishing to %s", self.topic)
            while not stop.is_set():
                if await self.relay_once(conn) == 0:
                    try:
                        await asyncio.wait_for(stop.wait(), idle_sleep)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await asyncio.to_thread(conn.close)


def relay_lag(conn: psycopg.Connection, texting: Texting, name: str = "events") -> tuple[int, int]:
    """(relayed position, newest stored notification id)."""
    row = conn.execute("SELECT notification_id FROM relay_position WHERE name = %s", (name,)).fetchone()
    return (row[0] if row else 0), (texting.recorder.max_notification_id() or 0)
