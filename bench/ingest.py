"""Ingest: signed inbound webhooks at rising concurrency against the running stack;
accepted texts per second, and how long until each shows in the inbox projection
(``pj_inbox.conversations.inbound_count``, polled by primary key every 20 ms)."""
from __future__ import annotations

import asyncio
import random
import time
from collections import deque

import aiohttp
import psycopg

from adapters.auth import issue_token
from bench.load import Client, Sent, drive, percentile
from domain.ids import conversation_id_of

POLL_SECONDS = 0.02


async def register_firms(api: str, jwt_secret: str, firms: int, clients_each: int, seed: int) -> list[Client]:
    """``firms`` firms (each with two texting users) and their clients' numbers."""
    rng = random.Random(seed)
    clients = []
    async with aiohttp.ClientSession(api) as http:
        for f in range(firms):
            firm_id, number = f"bench-{seed:x}-{f:03d}", f"+1555{rng.randrange(10**7):07d}"
            admin = {"Authorization": f"Bearer {issue_token(jwt_secret, firm_id, 'host', ['admin'])}"}
            async with http.put("/v1/firm", json={"name": f"Bench Firm {f}", "number": number}, headers=admin) as r:
                assert r.status == 200, await r.text()
            for user in ("alice", "bob"):
                body = {"name": user.title(), "email": f"{user}@{firm_id}.test", "permissions": ["texting"],
                        "notify": {"email": "none", "desktop": "clients"}}
                async with http.put(f"/v1/users/{user}", json=body, headers=admin) as r:
                    assert r.status == 200, await r.text()
            clients += [Client(firm_id, number, f"+1555{rng.randrange(10**7):07d}") for _ in range(clients_each)]
    rng.shuffle(clients)
    return clients


class Visibility:
    """Times from sending a text to seeing it counted in its conversation's inbox row.

    One per run, not per level: a conversation's count carries texts of earlier levels
    (every level drains before the next, so what was counted is what was seen)."""

    def __init__(self, database_url: str, phone_hash) -> None:
        self.database_url, self.phone_hash = database_url, phone_hash
        self.conversation: dict[Client, str] = {}
        self.pending: dict[str, deque] = {}  # conversation -> send times of accepted, not yet visible
        self.visible: dict[str, int] = {}
        self.latencies: list[float] = []

    def accepted(self, sent: Sent) -> None:
        conv = self.conversation.get(sent.client)
        if conv is None:
            conv = self.conversation[sent.client] = str(conversation_id_of(
                sent.client.firm_id, self.phone_hash(sent.client.firm_id, sent.client.phone)))
        self.pending.setdefault(conv, deque()).append(sent.sent_at)

    def waiting(self) -> int:
        return sum(len(q) for q in self.pending.values())

    async def watch(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            # The table grows from empty during the run, faster than its statistics: the
            # planner scanned all of it for every poll (50 a second, several ms each, on the
            # CPU the pipeline measured here needs, and counted in its PostgreSQL CPU per
            # text). The poller's own session reads by primary key, as it means to.
            await conn.execute("SET enable_seqscan = off")
            while not stop.is_set() or self.waiting():
                ids = [c for c, q in self.pending.items() if q]
                if ids:
                    rows = await (await conn.execute(
                        "SELECT conversation_id, inbound_count FROM pj_inbox.conversations "
                        "WHERE conversation_id = ANY(%s)", (ids,))).fetchall()
                    now = time.perf_counter()
                    for conv, count in rows:
                        queue, new = self.pending[conv], count - self.visible.get(conv, 0)
                        for _ in range(min(new, len(queue))):
                            self.latencies.append(now - queue.popleft())
                        self.visible[conv] = count
                await asyncio.sleep(POLL_SECONDS)


async def level(settings, clients: list[Client], concurrency: int, seconds: float, run_id: str,
                seen: Visibility, drain_timeout: float = 60.0) -> dict:
    """One concurrency level: load for ``seconds``, then wait until everything shows."""
    seen.latencies = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(seen.watch(stop))
    run = await drive(settings.public_url, settings.public_url, settings.twilio_auth_token,
                      settings.twilio_account_sid, clients, concurrency, seconds, run_id, seen.accepted)
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(watcher), drain_timeout)
    except asyncio.TimeoutError:
        watcher.cancel()
    summary = run.summary()
    if summary["errors"] > summary["accepted"]:  # a figure over refused requests would measure nothing
        raise RuntimeError(f"{summary['errors']} of {summary['requests']} webhooks were refused "
                           f"at {concurrency} in flight: the bench's traffic is wrong, not the API slow")
    latencies = sorted(seen.latencies)
    return {**summary, "visible": len(latencies), "not_visible_after_drain": seen.waiting(),
            "visibility_p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "visibility_p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "visibility_max_ms": round((latencies[-1] if latencies else 0) * 1000, 1)}
