"""streams/batching.py through Faust's own ``agent.test_context()``: what the worker's agents
are handed, batch by batch."""
from __future__ import annotations

import asyncio
import time

import faust
import pytest

from streams.batching import take_batches
from tests.unit.test_worker_agents import until


def batching_agent(max_: int, within: float):
    """An agent that notes each batch it takes (values, and when) and the events acked."""
    app = faust.App("batching-test", broker="kafka://127.0.0.1:9", web_enabled=False)
    topic = app.topic("batching-test", key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    seen: list[tuple[float, list[bytes]]] = []
    hold = asyncio.Event()
    hold.set()

    @app.agent(topic)
    async def taker(stream):
        async for batch in take_batches(stream, max_, within):
            seen.append((time.monotonic(), [e.value for e in batch]))
            await hold.wait()  # a test may keep a batch "being applied"

    return taker, seen, hold


async def test_every_event_is_handed_over_once_in_order_in_batches_of_at_most_max():
    taker, seen, _ = batching_agent(max_=10, within=0.01)
    values = [f"v{i}".encode() for i in range(45)]
    async with taker.test_context() as agent:
        for value in values:
            await agent.put(value, key=b"k", partition=0)
        await until(lambda: sum(len(b) for _, b in seen) == len(values))
    assert [v for _, batch in seen for v in batch] == values
    assert all(1 <= len(batch) <= 10 for _, batch in seen)


async def test_a_lone_event_is_handed_over_about_within_after_it_came():
    taker, seen, _ = batching_agent(max_=100, within=0.05)
    async with taker.test_context() as agent:
        await asyncio.sleep(0.2)  # idle first: no tick is pending to hand it over early or late
        put_at = time.monotonic()
        await agent.put(b"alone", key=b"k", partition=0)
        await until(lambda: seen)
    waited = seen[0][0] - put_at
    assert seen[0][1] == [b"alone"]
    assert 0.04 <= waited < 0.2, waited


async def test_what_arrives_while_a_batch_is_applied_is_the_next_batch():
    taker, seen, hold = batching_agent(max_=100, within=0.001)
    async with taker.test_context() as agent:
        hold.clear()  # the first batch stays "being applied"
        await agent.put(b"first", key=b"k", partition=0)
        await until(lambda: seen)
        for i in range(5):
            await agent.put(f"during{i}".encode(), key=b"k", partition=0)
        await asyncio.sleep(0.05)
        hold.set()
        await until(lambda: sum(len(b) for _, b in seen) == 6)
    assert [batch for _, batch in seen] == [[b"first"], [f"during{i}".encode() for i in range(5)]]


@pytest.mark.parametrize("count", [1, 7])
async def test_the_events_of_a_taken_batch_are_acked(count):
    taker, seen, _ = batching_agent(max_=3, within=0.001)
    async with taker.test_context() as agent:
        events = [await agent.put(f"a{i}".encode(), key=b"k", partition=0) for i in range(count)]
        await until(lambda: sum(len(b) for _, b in seen) == count)
        await asyncio.sleep(0.02)  # the taker asks for its next batch: the last ones are acked
        assert all(e.message.acked for e in events)
