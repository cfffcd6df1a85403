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


def _terminate_other_backends(url: str) -> int:
    """Cut every other connection to the test's database (the relay's, its listener's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall())


async def test_a_relay_that_remembers_its_heads_publishes_the_chain_the_store_gives(relay_settings):
    """The active relay keeps its position and the heads of the streams it moved between
    batches instead of reading them again. Whatever it publishes, batch after batch and
    after its connections were cut mid-run, is byte for byte the envelope an auditor
    rebuilds from the store (streams/audit_store.py), republished copies included."""
    await asyncio.to_thread(migrate, relay_settings)
    container = Container(relay_settings, pool_size=2)
    stop = asyncio.Event()
    relay = Relay(container.texting, container.database_url,
                  lambda: new_producer(container.kafka_bootstrap), relay_settings.events_topic)
    receive = container.texting.receive_inbound
    try:
        task = asyncio.create_task(relay.run(stop))
        try:
            for round_ in range(6):  # the same conversations move in every batch: their heads are remembered
                for phone in ("+15551230011", "+15551230012"):
                    await asyncio.to_thread(receive, "firm-a", phone, f"SM-{round_}-{phone[-2:]}", f"text {round_}")
                await asyncio.to_thread(receive, "firm-b", f"+1555123010{round_}", f"SM-b-{round_}", "new one")
                newest = container.texting.recorder.max_notification_id()
                await _until(lambda: _position(container.database_url) >= newest, timeout=60)
                if round_ == 3:  # the relay starts over and must read position and heads again
                    assert await asyncio.to_thread(_terminate_other_backends, container.database_url) >= 1
            assert not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        await _assert_log_is_the_store(container, relay_settings.events_topic, newest)
    finally:
        container.close()


async def _assert_log_is_the_store(container, topic: str, newest: int) -> None:
    """Every notification up to ``newest`` is in the log, and every copy of it is the
    envelope an auditor rebuilds from the store."""
    from domain.envelope import encode
    from streams.audit_store import stored_envelopes
    from streams.log_reader import TopicReader

    expected = {env["notification_id"]: encode(env) for env in stored_envelopes(container.texting)}
    published: dict[int, set[bytes]] = {}
    async with TopicReader(container.kafka_bootstrap, topic) as reader:
        async for record in reader.records():
            published.setdefault(record.envelope()["notification_id"], set()).add(record.value)
    assert sorted(published) == sorted(expected) == list(range(1, newest + 1))
    assert {n: copies for n, copies in published.items() if copies != {expected[n]}} == {}


async def test_a_relay_back_after_another_one_took_over_reads_the_heads_again(relay_settings):
    """Relay A publishes, stops; relay B moves the same conversations on; A runs again. What A
    remembered is stale by then (it forgets it when it starts over, and even kept, position
    and heads would only be stale together: a republish): what it publishes must be the
    chain the store gives."""
    await asyncio.to_thread(migrate, relay_settings)
    container = Container(relay_settings, pool_size=2)
    first, second = (Relay(container.texting, container.database_url, lambda: new_producer(container.kafka_bootstrap),
                           relay_settings.events_topic) for _ in range(2))
    try:
        for round_, relay in enumerate((first, second, first)):
            for phone in ("+15551230021", "+15551230022"):
                await asyncio.to_thread(container.texting.receive_inbound, "firm-a", phone,
                                        f"SM-{round_}-{phone[-2:]}", f"text {round_}")
            newest = container.texting.recorder.max_notification_id()
            stop = asyncio.Event()
            task = asyncio.create_task(relay.run(stop))
            try:
                await _until(lambda: _position(container.database_url) >= newest, timeout=60)
            finally:
                stop.set()
                await asyncio.wait_for(task, 20)
        await _assert_log_is_the_store(container, relay_settings.events_topic, newest)
    finally:
        container.close()
