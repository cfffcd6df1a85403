"""The worker's agents (streams/agents.py), driven without Kafka: records handed to
them as the feed hands them (aiokafka's ``ConsumerRecord`` shape), over in-memory
parts: the same agent code and projection functions the worker runs, with the
projections in memory (projections/memory_writer.py) instead of PostgreSQL."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import NamedTuple

import pytest
from aiokafka import TopicPartition

import streams.agents
from domain.envelope import encode
from firmtext.config import Settings
from projections.inbox import CONVERSATIONS
from projections.memory_writer import MemoryWriter
from projections.registry import ALL
from streams.agents import Agent, WorkerParts
from streams.feed import HOLD_BATCHES
from streams.relay import chain_envelopes
from streams.worker import Worker
from tests.unit.fakes import in_memory_texting

FIRM = "firm-a"


def envelopes() -> list[dict]:
    """A firm, and a client who texts it twice: the envelopes the relay publishes."""
    app = in_memory_texting()
    app.configure_firm(FIRM, "A Law", "+15552000001")
    app.receive_inbound(FIRM, "+15557770001", "SM" + "1" * 32, "Hello")
    app.receive_inbound(FIRM, "+15557770001", "SM" + "2" * 32, "Are you there?")
    return chain_envelopes(app, list(app.recorder.select_notifications(start=1, limit=100)), {})


class Recorded:
    def __init__(self) -> None:
        self.batches: list[list] = []

    def __call__(self, events) -> None:
        self.batches.append(events)


class Record(NamedTuple):
    partition: int
    offset: int
    value: bytes


@pytest.fixture
def worker(tmp_path):
    settings = replace(Settings.from_env(secrets=False), var_dir=tmp_path, app_id="agents-test")
    writer, recorded = MemoryWriter(list(ALL.values())), Recorded()
    parts = WorkerParts(project=writer.apply, record=recorded, positions=lambda: ({}, {}))
    # A broker never connected to: nothing starts the feed; the tests feed the agents.
    return Worker(settings, "127.0.0.1:9", parts), writer, recorded


class Running:
    """An agent's loop running in the background while the test hands it records."""

    def __init__(self, agent: Agent) -> None:
        self.agent, self.offset = agent, {}

    async def __aenter__(self) -> "Running":
        self.task = asyncio.create_task(self.agent.run())
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def put(self, values: list[bytes], partition: int = 0) -> None:
        offset = self.offset.get(partition, 0)
        self.agent.offer([Record(partition, offset + i, v) for i, v in enumerate(values)])
        self.offset[partition] = offset + len(values)


async def until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent did not get there in time")


def inbox(writer: MemoryWriter) -> list[dict]:
    return writer.stores["inbox"].select(CONVERSATIONS, firm_id=FIRM)


def test_the_agents_are_named_and_reachable(worker):
    app, _, _ = worker
    assert set(app.agents) == {"project", "send"}


async def test_a_received_text_appears_in_the_inbox(worker):
    app, writer, _ = worker
    async with Running(app.agents["project"]) as agent:
        agent.put([encode(e) for e in envelopes()])
        await until(lambda: inbox(writer) and inbox(writer)[0]["inbound_count"] == 2)
    row = inbox(writer)[0]
    assert row["message_count"] == 2 and row["last_message"]["direction"] == "inbound"


async def test_a_redelivered_event_is_applied_once(worker):
    app, writer, _ = worker
    values = [encode(e) for e in envelopes()]
    async with Running(app.agents["project"]) as agent:
        agent.put(values)
        agent.put(values[-2:])  # Kafka hands the last two out again (new offsets)
        newest = json.loads(values[-1])["notification_id"]
        await until(lambda: writer.applied(0) == newest and writer.handed == len(values) + 2)
    assert inbox(writer)[0]["inbound_count"] == 2  # not 3


async def test_a_poison_event_is_set_aside_and_the_next_one_applied(worker):
    app, writer, _ = worker
    good = envelopes()
    # An InboundReceived without the fields its handlers read: they raise on it.
    poison = dict(good[-1], notification_id=good[-1]["notification_id"] + 1, data={"message_id": "m-bad"})
    later = dict(good[-1], notification_id=poison["notification_id"] + 1,
                 data={**good[-1]["data"], "message_id": "m-later"})
    async with Running(app.agents["project"]) as agent:
        agent.put([encode(e) for e in good + [poison, later]])
        await until(lambda: writer.applied(0) == later["notification_id"])
    assert inbox(writer)[0]["inbound_count"] == 3  # the two texts, then the one after the poison
    assert {(f[0], f[2]) for f in writer.failures} >= {("inbox", len(good))}  # (projection, offset)


async def test_an_unknown_event_type_is_counted_and_the_next_event_applied(worker):
    app, writer, _ = worker
    good = envelopes()
    strange = dict(good[-1], type="Conversation.Teleported", notification_id=good[-1]["notification_id"] + 1)
    newer = dict(good[-1], schema_version=99, notification_id=strange["notification_id"] + 1)
    later = dict(good[-1], notification_id=newer["notification_id"] + 1, data={**good[-1]["data"], "message_id": "m3"})
    async with Running(app.agents["project"]) as agent:
        agent.put([encode(e) for e in good + [strange, newer, later]])
        await until(lambda: writer.applied(0) == later["notification_id"])
    assert writer.unknown == {("Conversation.Teleported", "1"): 1, ("Conversation.InboundReceived", "99"): 1}
    assert inbox(writer)[0]["inbound_count"] == 3 and not writer.failures


async def test_the_send_agent_hands_on_every_envelope_and_skips_foreign_records(worker):
    app, _, recorded = worker
    values = [encode(e) for e in envelopes()]
    async with Running(app.agents["send"]) as agent:
        agent.put(values[:1] + [b"not an envelope"] + values[1:])
        await until(lambda: sum(len(b) for b in recorded.batches) == len(values))
    assert [e.offset for b in recorded.batches for e in b] == [0] + list(range(2, len(values) + 1))


async def test_a_batch_whose_sink_fails_is_tried_again_until_applied_never_skipped(worker, monkeypatch):
    """PostgreSQL away: the batch is not dropped (nor the records after it taken past it)."""
    app, writer, _ = worker
    monkeypatch.setattr(streams.agents, "RETRY_FIRST", 0.01)
    agent_ = app.agents["project"]
    failing = {"left": 2}

    def flaky(events):
        if failing["left"]:
            failing["left"] -= 1
            raise ConnectionError("PostgreSQL is away")
        return writer.apply(events)
    agent_.work.sink = flaky
    values = [encode(e) for e in envelopes()]
    async with Running(agent_) as agent:
        agent.put(values)
        await until(lambda: writer.applied(0) == json.loads(values[-1])["notification_id"])
    assert failing["left"] == 0 and agent_.failures == 0
    assert inbox(writer)[0]["inbound_count"] == 2


async def test_a_gap_is_never_applied_past_and_the_partition_is_read_again_from_it(worker):
    app, writer, recorded = worker
    values = [encode(e) for e in envelopes()]
    app.agents["send"].work.continuity.reset({0: 0})
    async with Running(app.agents["send"]):
        app.agents["send"].offer([Record(0, 0, values[0]), Record(0, 1, values[1]), Record(0, 5, values[2])])
        await until(lambda: app.feed.seeks == {0: 2})  # read again from the first missing offset
    assert [e.offset for b in recorded.batches for e in b] == [0, 1]


async def test_a_lone_record_is_handed_on_alone_and_a_burst_in_batches_of_at_most_max_in_order(worker):
    app, _, recorded = worker
    agent_ = app.agents["send"]
    agent_.max = 3
    values = [encode(e) for e in envelopes()]
    async with Running(agent_) as agent:
        agent.put(values[:1])
        await until(lambda: len(recorded.batches) == 1)
        agent.put(values[1:] * 3)
        await until(lambda: sum(len(b) for b in recorded.batches) == 1 + 3 * (len(values) - 1))
    sizes = [len(b) for b in recorded.batches]
    assert sizes[0] == 1 and all(size <= 3 for size in sizes)
    assert [e.offset for b in recorded.batches for e in b] == list(range(1 + 3 * (len(values) - 1)))


def test_the_feed_stops_fetching_while_an_agent_holds_too_much(worker):
    app, _, _ = worker
    agent_ = app.agents["send"]
    assert not app.feed.crowded()
    agent_.offer([Record(0, i, b"") for i in range(HOLD_BATCHES * agent_.max)])
    assert app.feed.crowded()
    app.feed.revoked({0})  # its partition went to another worker: its records are dropped
    assert agent_.backlog() == 0 and not app.feed.crowded()


class PausingConsumer:
    """The few calls the feed makes on aiokafka's consumer while positioning partitions."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions, self.paused_, self.at = partitions, set(), {}

    def assignment(self):
        return {TopicPartition("t", p) for p in self.partitions}

    def pause(self, *tps) -> None:
        self.paused_ |= {tp.partition for tp in tps}

    def seek(self, tp, offset: int) -> None:
        self.at[tp.partition] = offset


async def test_partitions_whose_positions_cannot_be_read_stay_unread_until_they_can(worker):
    """PostgreSQL away during a rebalance: reading those partitions from anywhere else (the
    group's committed offsets, or offset 0) is never right; they wait, paused."""
    app, _, _ = worker
    answers = [ConnectionError("PostgreSQL is away"), {0: 7, 1: 3}]

    async def starts(partitions):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    app.feed.on_assigned = starts
    app.feed.consumer = PausingConsumer({0, 1})
    await app.feed.assigned({0, 1})
    assert app.feed.unpositioned == {0, 1} and app.feed.consumer.paused_ == {0, 1} and not app.feed.consumer.at
    await app.feed._position_the_rest()
    assert app.feed.unpositioned == set() and app.feed.consumer.at == {0: 7, 1: 3}


def test_the_pinned_aiokafka_still_builds_each_fetch_from_the_attributes_the_feed_paces():
    """EventFeed.pace changes two private fetcher attributes on a running consumer; an
    aiokafka that stopped reading them per request would silently fetch one way forever."""
    import inspect

    from aiokafka.consumer.fetcher import Fetcher

    source = inspect.getsource(Fetcher)
    built = source[source.index("req = FetchRequest("):]
    assert "self._fetch_max_wait_ms" in built[:200] and "self._fetch_min_bytes" in built[:200]
    assert "self._fetch_min_bytes = fetch_min_bytes" in inspect.getsource(Fetcher.__init__)
