"""The worker's two agents, as named functions over their parts.

An agent's whole job per batch is :meth:`AgentWork.batch`: position partitions it has
not seen (from PostgreSQL), drop what follows a gap (:class:`Continuity`), decode, hand
the events to its sink (the projection writer, or the send recorder) in a thread, and
seek back to the first missing offset. The sinks are plain functions over events and
a store, so a unit test drives an agent with Faust's ``agent.test_context()`` and an
in-memory sink (tests/unit/test_worker_agents.py), and the worker with PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from domain.envelope import Event
from streams.batching import take_batches
from streams.continuity import Continuity, kafka_position, to_events

log = logging.getLogger("firmtext.worker")

PROJECT_BATCH = 4000  # events per projection transaction, at most (a backlog: bench/results/projector.json)
SEND_BATCH = 500
# How long a batch waits for more after its first event (streams/batching.py; it was a 10 ms
# and a 5 ms tick, 50 ms before that). Short, as every text crosses these agents on its way
# to the carrier and back to the inbox (bench/outbound.py); under load a batch is what came
# while the last one was applied.
PROJECT_WITHIN = 0.004
SEND_WITHIN = 0.002
# Tried and dropped: pausing after a large batch so the next one fills (fewer, larger
# transactions under load). It cost the inbox's visibility p99 about 300 ms at 64 webhooks
# in flight (probably as the two agents share one consumer, so one's pause holds the other) for no
# throughput that stood out from this machine's noise.


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
        """Handle one batch of Faust events; returns the events handed to the sink."""
        unknown = self.continuity.unknown(items, kafka_position)
        if unknown:  # Faust may hand records out before its assignment handler ran
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


def project_agent(work: AgentWork):
    """The ``project`` agent: batches of up to PROJECT_BATCH events to the projections."""
    async def project(stream):
        async for batch in take_batches(stream, PROJECT_BATCH, PROJECT_WITHIN):
            await work.batch(batch)
    return project


def send_agent(work: AgentWork):
    """The ``send`` agent: records each requested text as due (fast); the lanes send them."""
    async def send(stream):
        async for batch in take_batches(stream, SEND_BATCH, SEND_WITHIN):
            await work.batch(batch)
    return send
