"""The outbox relay never crash-loops: what the log refuses for good is set aside and the
rest published; an unreachable Kafka is reported and waited out, then caught up."""
from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from domain.texting import Texting
from firmtext.bootstrap import Container, eventsourcing_env
from firmtext.commands.migrate import migrate
from streams.kafka import new_producer
from streams.relay import Relay

pytestmark = pytest.mark.asyncio


@pytest.fixture
def relay_settings(test_settings, make_database):
    """A database and a topic of their own: nothing here may reach the e2e stack's."""
    token = uuid.uuid4().hex[:10]
    return test_settings.with_overrides(database_url=make_database(), events_topic=f"firmtext.relay.{token}")


def _state(url: str) -> tuple[str, str] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT state, detail FROM relay_status WHERE name = 'events'").fetchone()


def _position(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT notification_id FROM relay_position WHERE name = 'events'").fetchone()
    return row[0] if row else 0


async def _until(check, timeout: float = 30.0):
    for _ in range(int(timeout / 0.1)):
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s")


async def _count_records(bootstrap: str, topic: str) -> int:
    from projections.rebuild.topic_range import end_offsets

    return sum((await end_offsets(bootstrap, topic)).values())


async def test_an_event_too_large_for_the_log_is_set_aside_and_the_rest_published(relay_settings):
    await asyncio.to_thread(migrate, relay_settings)
    container = Container(relay_settings, pool_size=2)
    # An event stored before the write side measured envelopes: 900,000 characters.
    unchecked = Texting(container.sealer, env=eventsourcing_env(container.database_url, 2),
                        max_event_bytes=2**31)
    try:
        await asyncio.to_thread(unchecked.receive_inbound, "firm-a", "+15551230001", "SM-big", "x" * 900_000)
        await asyncio.to_thread(unchecked.receive_inbound, "firm-a", "+15551230001", "SM-after", "still here")
        newest = unchecked.recorder.max_notification_id()
        stop = asyncio.Event()
        relay = Relay(container.texting, container.database_url,
                      lambda: new_producer(container.kafka_bootstrap), relay_settings.events_topic)
        task = asyncio.create_task(relay.run(stop))
        try:
            await _until(lambda: _position(container.database_url) >= newest)
            assert not task.done(), "the relay stopped instead of setting the event aside"
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            aside = conn.execute("SELECT event_type, size_bytes FROM relay_set_aside").fetchall()
        assert [t for t, _ in aside] == ["Conversation.InboundReceived"]
        assert aside[0][1] > 1024 * 1024
        # Started, the big text (set aside) and the next text: two of three reached the log.
        assert await _count_records(container.kafka_bootstrap, relay_settings.events_topic) == newest - 1
        assert (await asyncio.to_thread(_state, container.database_url))[0] == "active"
    finally:
        unchecked.close()
        container.close()


async def test_an_unreachable_kafka_is_reported_and_waited_out(relay_settings):
    await asyncio.to_thread(migrate, relay_settings)
    container = Container(relay_settings, pool_size=2)
    reachable = {"now": False}

    def producer():  # nothing listens on port 1 until Kafka "comes back"
        return new_producer(container.kafka_bootstrap if reachable["now"] else "127.0.0.1:1")

    try:
        await asyncio.to_thread(container.texting.receive_inbound, "firm-b", "+15551230002", "SM-1", "hello")
        newest = container.texting.recorder.max_notification_id()
        stop = asyncio.Event()
        task = asyncio.create_task(Relay(container.texting, container.database_url, producer,
                                         relay_settings.events_topic).run(stop))
        try:
            state = await _until(lambda: (_state(container.database_url) or ("",))[0] == "failing"
                                 and _state(container.database_url))
            assert "retrying" in state[1]
            report = await asyncio.to_thread(container.relay_report)
            assert report.state == "failing" and report.lag >= 1
            reachable["now"] = True
            await _until(lambda: _position(container.database_url) >= newest, timeout=60)
            assert not task.done()
            assert (await asyncio.to_thread(_state, container.database_url))[0] == "active"
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
    finally:
        container.close()


async def test_a_stored_event_wakes_the_relay_at_once_instead_of_at_its_next_poll(relay_settings):
    """The relay LISTENs for the event store's commit notification: with polling set to 30 s,
    a text stored while it idles still reaches Kafka within a second (issue 11: every text
    crosses the relay twice on its way to "sent")."""
    await asyncio.to_thread(migrate, relay_settings)
    container = Container(relay_settings, pool_size=2)
    stop = asyncio.Event()
    relay = Relay(container.texting, container.database_url,
                  lambda: new_producer(container.kafka_bootstrap), relay_settings.events_topic)
    task = asyncio.create_task(relay.run(stop, idle_sleep=30.0))
    try:
        await asyncio.to_thread(container.texting.receive_inbound, "firm-a", "+15551230002", "SM-first", "one")
        await _until(lambda: _position(container.database_url) >= 1)  # the first poll, at start
        await asyncio.sleep(0.5)  # idle now: its next poll is 30 s away
        await asyncio.to_thread(container.texting.receive_inbound, "firm-a", "+15551230002", "SM-second", "two")
        newest = container.texting.recorder.max_notification_id()
        began = asyncio.get_running_loop().time()
        await _until(lambda: _position(container.database_url) >= newest, timeout=10)
        assert asyncio.get_running_loop().time() - began < 1.0
        assert await _count_records(container.kafka_bootstrap, relay_settings.events_topic) == newest
    finally:
        stop.set()
        await asyncio.wait_for(task, 40)
        container.close()
