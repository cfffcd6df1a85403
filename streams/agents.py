"""The worker's two agents: the projections and the send recorder.

An agent's whole job per batch is :meth:`AgentWork.batch`: position partitions it has
not seen (from PostgreSQL), drop what follows a gap (:class:`Continuity`), decode, hand
the events to its sink (the projection writer, or the send recorder) in a thread, and
seek back to the first missing offset. :class:`Agent` takes the records the feed
(streams/feed.py) hands it in batches and retries a batch whose sink failed. The sinks
are plain functions over events and a store, so a unit test drives an agent with
in-memory records and an in-memory sink (tests/unit/test_worker_agents.py), and the
worker with PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from domain.envelope import Event
from streams.continuity import Continuity, kafka_position, to_events

log = logging.getLogger("firmtext.worker")

PROJECT_BATCH = 4000  # events per projection transaction, at most (a backlog: bench/results/projector.json)
SEND_BATCH = 500
# How long a batch waits for more after its first record came. The feed's fetch already
# gathers what the broker received within BUSY_WAIT_MS under load (streams/feed.py), and under
# load a batch is what came while the last one was applied; every text crosses these
# agents on its way to the carrier and back to the inbox (bench/outbound.py), so short.
PROJECT_WITHIN = 0.002
SEND_WITHIN = 0.0
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # seconds between tries of a batch whose sink failed

@dataclass
class WorkerParts:
    """What the agents work with. The worker builds them over PostgreSQL
    (streams/worker_parts.py); tests hand in their own.

    - ``project(events)``: apply a batch to every projection, exactly once.
    - ``record(events)``: record the texts a batch requests (and wake the lanes).
    - ``positions()``: (projections, sender) partition -> next offset each needs.
    """

    project: Callable[[list[Event]], object]
    record: Callable[[list[Event]], object]
    positions: Callable[[], tuple[dict[int, int], dict[int, int]]]
    run_lanes: Callable[[], Awaitable[None]] | None = None


def consumer_start(p: int, projection_at: dict[int, int], sender_at: dict[int, int]) -> int:
    """Where the shared consumer starts on partition ``p``: the earlier of the two positions
    (a partition the sender never sent on starts where the projections do)."""
    return min(projection_at.get(p, 0), sender_at.get(p, projection_at.get(p, 0)))


class AgentWork:
    """One agent's per-batch work. ``sink`` is blocking (run in a thread); ``seek`` moves
    the consumer on a partition; ``start_of(positions)`` picks this agent's next offset
    per partition from :meth:`WorkerParts.positions`."""

    def __init__(self, name: str, sink: Callable[[list[Event]], object],
                 positions: Callable[[], tuple[dict, dict]],
                 start_of: Callable[[int, dict, dict], int],
                 seek: Callable[[int, int], Awaitable[None]]) -> None:
        self.name, self.sink, self.positions, self.start_of, self.seek = name, sink, positions, start_of, seek
        self.continuity = Continuity()

    async def batch(self, items: list) -> list[Event]:
        """Handle one batch of Kafka records; returns the events handed to the sink."""
        unknown = self.continuity.unknown(items, kafka_position)
        if unknown:  # records of a partition no assignment positioned (a test's, say)
            projection_at, sender_at = await asyncio.to_thread(self.positions)
            self.continuity.reset({p: self.start_of(p, projection_at, sender_at) for p in unknown})
        items, gaps = self.continuity.check(items, kafka_position)
        events = to_events(items)
        if events:
            await asyncio.to_thread(self.sink, events)
        self.continuity.advance(items, kafka_position)
        for partition, offset in gaps.items():
            log.warning("%s: offsets of partition %s skipped from %s on; reading again from there",
                        self.name, partition, offset)
            await self.seek(partition, offset)
        return events


def projection_start(p: int, projection_at: dict, sender_at: dict) -> int:
    return projection_at.get(p, 0)


class Agent:
    """Records handed in by the feed (:meth:`offer`), taken in batches of at most
    ``max_``, each handed over ``within`` seconds after its first record came (at once
    when full); records that come while a batch is applied form the next one. A batch
    whose sink fails is logged and tried again, with backoff, until it is applied: the
    feed stops fetching meanwhile (:meth:`backlog`), so nothing is skipped or piles up."""

    def __init__(self, work: AgentWork, max_: int, within: float) -> None:
        self.work, self.max, self.within = work, max_, within
        self.buffered: list = []
        self.arrived, self.full = asyncio.Event(), asyncio.Event()
        self.taken = asyncio.Event()  # a batch was taken: the feed may have room again
        self.failures = 0

    @property
    def name(self) -> str:
        return self.work.name

    def offer(self, records: list) -> None:
        self.buffered.extend(records)
        if self.buffered:
            self.arrived.set()
        if len(self.buffered) >= self.max:
            self.full.set()

    def drop(self, partitions: set[int]) -> None:
        """Forget the buffered records of ``partitions`` (revoked from this worker)."""
        self.buffered = [r for r in self.buffered if r.partition not in partitions]
        if len(self.buffered) < self.max:
            self.full.clear()

    def backlog(self) -> int:
        return len(self.buffered)

    async def next_batch(self) -> list:
        while not self.buffered:
            self.arrived.clear()
            await self.arrived.wait()
        if self.within and not self.full.is_set():
            try:
                await asyncio.wait_for(self.full.wait(), self.within)
            except asyncio.TimeoutError:
                pass
        batch, self.buffered = self.buffered[:self.max], self.buffered[self.max:]
        if len(self.buffered) < self.max:
            self.full.clear()
        self.taken.set()
        return batch

    async def apply(self, batch: list) -> list[Event]:
        """:meth:`AgentWork.batch`, tried until it succeeds; returns the events handed on."""
        delay = RETRY_FIRST
        while True:
            try:
                events = await self.work.batch(batch)
                self.failures = 0
                return events
            except Exception:
                self.failures += 1
                log.exception("%s: a batch of %d records failed (try %d); trying it again in %.1f s",
                              self.name, len(batch), self.failures, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def run(self) -> None:
        while True:
            await self.apply(await self.next_batch())
