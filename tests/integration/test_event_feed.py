"""The worker's consumer (streams/feed.py) on the real broker: where it starts reading
is PostgreSQL's word (here, the positions the sinks keep), never the group's committed
offsets; workers of one group share the partitions, and one leaving hands its share to
the others, which go on from the positions, so every event reaches a sink and none is
applied twice."""
from __future__ import annotations

import asyncio
import threading
import uuid
from itertools import islice
from dataclasses import replace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.events import generate
from bench.fill_topic import create_topic
from streams.agents import WorkerParts
from streams.worker import Worker
from tests.unit.test_worker_agents import until as until_within

pytestmark = pytest.mark.integration

PARTITIONS = 4


async def until(condition, seconds: float = 60.0) -> None:
    await until_within(condition, seconds)  # a real broker's rebalances take seconds


class Positions:
    """What the projection tracking does in PostgreSQL: per partition, the next offset to
    apply, moved in the same step as the events are applied (under a lock, like a
    transaction); an event below it is a redelivery and is skipped."""

    def __init__(self, start: dict[int, int] | None = None) -> None:
        self.next = dict(start or {})
        self.applied: dict[tuple[int, int], str] = {}  # (partition, offset) -> worker
        self.lock = threading.Lock()

    def sink(self, name: str):
        def apply(events) -> None:
            with self.lock:
                for e in events:
                    if e.offset >= self.next.get(e.partition, 0):
                        assert (e.partition, e.offset) not in self.applied
                        self.applied[e.partition, e.offset] = name
                        self.next[e.partition] = e.offset + 1
        return apply

    def parts(self, name: str) -> WorkerParts:
        return WorkerParts(project=self.sink(name), record=lambda events: None,
                           positions=lambda: (dict(self.next), {}))


async def produce(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        values = [value for _, value in islice(generate(start + count), start + count)][start:]  # real envelopes
        for i, value in enumerate(values, start):
            await producer.send(topic, value, partition=i % PARTITIONS)
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture
async def topic(test_settings):
    name = f"feed-test-{uuid.uuid4().hex[:10]}"
    await create_topic(test_settings.kafka_bootstrap, name, PARTITIONS)
    return replace(test_settings, events_topic=name, app_id=f"group-{name}")


def expected(count: int, start: dict[int, int] | None = None) -> set[tuple[int, int]]:
    start = start or {}
    per = {p: len(range(p, count, PARTITIONS)) for p in range(PARTITIONS)}
    return {(p, o) for p, n in per.items() for o in range(start.get(p, 0), n)}


async def test_reading_starts_at_postgresql_positions_not_at_the_groups_committed_offsets(topic):
    bootstrap = topic.kafka_bootstrap
    await produce(bootstrap, topic.events_topic, 40)
    # The group's committed offsets say "all read": a consumer that trusted them would skip everything.
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=topic.app_id, enable_auto_commit=False)
    await committer.start()
    tps = [TopicPartition(topic.events_topic, p) for p in range(PARTITIONS)]
    committer.assign(tps)
    await committer.commit(await committer.end_offsets(tps))
    await committer.stop()

    positions = Positions({0: 4, 1: 10})  # partition 1 all applied already; 2 and 3 none
    stop = asyncio.Event()
    run = asyncio.create_task(Worker(topic, bootstrap, positions.parts("a")).run(stop))
    try:
        await until(lambda: set(positions.applied) == expected(40, {0: 4, 1: 10}))
    finally:
        stop.set()
        await run
    assert min(o for p, o in positions.applied if p == 0) == 4


async def test_two_workers_share_the_partitions_and_one_leaving_hands_its_share_over(topic):
    bootstrap = topic.kafka_bootstrap
    positions = Positions()
    stops = {name: asyncio.Event() for name in "ab"}
    workers = {name: Worker(topic, bootstrap, positions.parts(name)) for name in "ab"}
    runs = {"a": asyncio.create_task(workers["a"].run(stops["a"]))}

    def assigned(name: str) -> set[int]:
        consumer = getattr(workers[name].feed, "consumer", None)
        return {tp.partition for tp in consumer.assignment()} if consumer else set()
    try:
        await produce(bootstrap, topic.events_topic, 200)
        await until(lambda: len(positions.applied) == 200)
        runs["b"] = asyncio.create_task(workers["b"].run(stops["b"]))
        await produce(bootstrap, topic.events_topic, 400, start=200)  # while the group rebalances
        await until(lambda: assigned("a") and assigned("b"))
        assert assigned("a") | assigned("b") == set(range(PARTITIONS)) and not assigned("a") & assigned("b")
        await produce(bootstrap, topic.events_topic, 100, start=600)  # offsets 150-174 of each partition
        await until(lambda: len(positions.applied) == 700)
        shared = {w for (p, o), w in positions.applied.items() if 150 <= o < 175}
        stops["a"].set()
        await runs["a"]  # a leaves the group: b takes every partition
        await produce(bootstrap, topic.events_topic, 100, start=700)  # offsets 175-199
        await until(lambda: len(positions.applied) == 800)
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.gather(*runs.values())
    assert set(positions.applied) == expected(800)  # every event once (the sink asserts never twice)
    assert shared == {"a", "b"}
    assert {w for (p, o), w in positions.applied.items() if o >= 175} == {"b"}
