"""The worker's one Kafka consumer: it fetches the events topic in batches and hands every
record to each agent (streams/agents.py).

Positions live in PostgreSQL, never in Kafka's committed offsets (nothing is committed
to the group): whenever partitions are assigned to this worker, ``on_assigned`` seeks
each one to where PostgreSQL says it was last applied, before any record of it is
fetched (aiokafka awaits the rebalance listener before fetching). Revoked partitions'
buffered records are dropped. A seek an agent asks for (a gap, :class:`Continuity`) is
made between two fetches, never racing one.

Why not Faust's agents (which this replaced, issue 11): consuming alone, with sinks that
only count, Faust's per-record machinery cost 136 µs of CPU per event on a backlog and
629 µs per event at 1,000 events/s; this feed and the agents 9.3 and 42.8 µs, a bare
aiokafka loop 3.2 and 25.9 (bench/consume.py, bench/results/consume.json; docs/architecture.md,
session 14).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from streams.agents import Agent

log = logging.getLogger("firmtext.worker")

# How the feed asks the broker for records. A fetch costs the broker about 1.5 ms of CPU
# whatever it carries (an idle worker fetching every 10 ms kept Kafka at 0.15-0.17 of a
# core; docs/architecture.md, session 14), and the worker pays per fetch too. So:
# - idle (the last fetch brought nothing): the fetch waits at the broker for the first
#   record, up to IDLE_WAIT_MS, and is answered the moment one comes: no added latency,
#   about two fetches a second;
# - busy (it brought records): the broker gathers for BUSY_WAIT_MS (unless
#   BUSY_MIN_BYTES are there first): at most 1000 / BUSY_WAIT_MS fetches a second
#   however fast events come, each one larger.
IDLE_WAIT_MS = 500
BUSY_WAIT_MS = 25
BUSY_MIN_BYTES = 1024 * 1024
FETCH_RECORDS = 4000  # records a fetch hands over at most
HOLD_BATCHES = 2  # an agent holding this many batches unapplied stops the fetching


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, feed: "EventFeed") -> None:
        self.feed = feed

    async def on_partitions_revoked(self, revoked) -> None:
        self.feed.revoked({tp.partition for tp in revoked if tp.topic == self.feed.topic})

    async def on_partitions_assigned(self, assigned) -> None:
        await self.feed.assigned({tp.partition for tp in assigned if tp.topic == self.feed.topic})


class EventFeed:
    """Fetches ``topic`` for ``agents`` as one member of the consumer group ``group``.
    ``on_assigned(partitions)`` returns {partition: offset} to start each at."""

    def __init__(self, bootstrap: str, topic: str, group: str, agents: list[Agent],
                 on_assigned: Callable[[set[int]], Awaitable[dict[int, int]]], client_id: str = "firmtext-worker") -> None:
        self.topic, self.agents, self.on_assigned = topic, agents, on_assigned
        self.options = dict(
            bootstrap_servers=bootstrap, group_id=group, client_id=client_id, enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000,
            fetch_max_wait_ms=IDLE_WAIT_MS, fetch_min_bytes=1, max_partition_fetch_bytes=8 * 1024 * 1024)
        self.busy = False
        self.consumer: AIOKafkaConsumer  # made by start(), inside the running loop (aiokafka needs it)
        self.seeks: dict[int, int] = {}
        self.unpositioned: set[int] = set()  # assigned, but PostgreSQL could not say where to start yet

    async def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` again from ``offset``, from the next fetch on."""
        self.seeks[partition] = min(offset, self.seeks.get(partition, offset))

    def revoked(self, partitions: set[int]) -> None:
        for agent in self.agents:
            agent.drop(partitions)
        for p in partitions:
            self.seeks.pop(p, None)
        self.unpositioned -= partitions

    async def assigned(self, partitions: set[int]) -> None:
        """Seek ``partitions`` to where PostgreSQL says they start. If it cannot say
        (PostgreSQL away), they stay paused, unread, and :meth:`run` asks again."""
        if not partitions:
            return
        try:
            starts = await self.on_assigned(partitions)
        except Exception as exc:
            log.warning("partitions %s assigned, but their positions could not be read (%s); "
                        "not reading them until they can", sorted(partitions), exc)
            self.unpositioned |= partitions
            self.consumer.pause(*(TopicPartition(self.topic, p) for p in partitions))
            return
        for p in partitions:
            self.consumer.seek(TopicPartition(self.topic, p), starts[p])
            self.seeks.pop(p, None)
        self.unpositioned -= partitions
        log.info("partitions %s assigned; starting at %s", sorted(partitions), starts)

    async def _position_the_rest(self) -> None:
        mine = {tp.partition for tp in self.consumer.assignment()}
        waiting, self.unpositioned = self.unpositioned & mine, set()
        await self.assigned(waiting)
        if self.unpositioned:
            await asyncio.sleep(1.0)

    def pace(self, busy: bool) -> None:
        """Set how the next fetches wait at the broker (see IDLE_WAIT_MS). aiokafka reads
        these two fetcher attributes each time it builds a fetch request and has no public
        way to change them on a running consumer (tests/unit/test_worker_agents.py checks
        that the pinned version still reads them)."""
        if busy != self.busy:
            fetcher = self.consumer._fetcher
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = (BUSY_MIN_BYTES, BUSY_WAIT_MS) if busy \
                else (1, IDLE_WAIT_MS)
            self.busy = busy

    def crowded(self) -> bool:
        return any(agent.backlog() >= HOLD_BATCHES * agent.max for agent in self.agents)

    def _apply_seeks(self) -> None:
        mine = {tp.partition for tp in self.consumer.assignment()}
        seeks, self.seeks = self.seeks, {}
        for partition, offset in seeks.items():
            if partition in mine:
                self.consumer.seek(TopicPartition(self.topic, partition), offset)

    async def _wait_for_room(self) -> None:
        """Pause every partition until some agent takes a batch (a second at most: the
        loop polls on, so the group keeps this member)."""
        self.consumer.pause(*self.consumer.assignment())
        for agent in self.agents:
            agent.taken.clear()
        waits = [asyncio.ensure_future(agent.taken.wait()) for agent in self.agents]
        try:
            await asyncio.wait(waits, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def run(self) -> None:
        """Fetch and hand over until cancelled. The consumer must be started."""
        while True:
            if self.unpositioned:
                await self._position_the_rest()
            crowded = self.crowded()
            if crowded:
                await self._wait_for_room()
            elif self.consumer.paused():
                self.consumer.resume(*(tp for tp in self.consumer.paused() if tp.partition not in self.unpositioned))
            self._apply_seeks()
            try:
                # Paused, this only polls (a partition assigned meanwhile is not paused).
                fetched = await self.consumer.getmany(timeout_ms=0 if crowded else 1000, max_records=FETCH_RECORDS)
            except KafkaError as exc:  # a broker away: aiokafka reconnects; say so and go on
                log.warning("fetching %s failed (%s); trying again", self.topic, exc)
                await asyncio.sleep(1.0)
                continue
            self.pace(busy=bool(fetched))
            for tp, records in fetched.items():
                if tp.partition in self.seeks:  # to be read again from an earlier offset first
                    continue
                for agent in self.agents:
                    agent.offer(records)

    async def start(self) -> None:
        self.consumer, self.busy = AIOKafkaConsumer(**self.options), False
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()  # leaves the group: the others take its partitions at once
