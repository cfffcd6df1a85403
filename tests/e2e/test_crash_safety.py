"""A burst of 1,000 inbound texts while the relay and the worker are killed with
SIGKILL at random moments and restarted: afterwards every text is in the inbox exactly
once, in order within its conversation."""
import asyncio
import json
import random
import signal

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from projections.rebuild.topic_range import partitions_of
from tests.e2e.harness import eventually, random_number, run_cli

CLIENTS, TEXTS_EACH = 50, 20


async def _burst(firm, numbers, both_killed: asyncio.Event):
    async def one_client(number):
        for i in range(TEXTS_EACH):  # sequential per client: defines the order to preserve
            if i == TEXTS_EACH // 2:
                # A fast stack takes the whole burst in about a second: the second half
                # waits until both components were killed once, so both kills land mid-burst.
                await asyncio.wait_for(both_killed.wait(), 60)
            await firm.text_in(number, f"{number[-4:]}-{i:02d}")

    await asyncio.gather(*(one_client(n) for n in numbers))


async def _kill_and_restart(running, stop: asyncio.Event, kills: list, both_killed: asyncio.Event):
    rng = random.Random()
    victims = ["relay", "worker"]
    rng.shuffle(victims)
    while not stop.is_set():
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        name = victims[len(kills) % 2]  # both, alternately; the moments are random
        await asyncio.to_thread(running.kill, name, signal.SIGKILL)
        kills.append(name)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await asyncio.to_thread(running.restart, name)
        if set(victims) <= set(kills):
            both_killed.set()


async def test_burst_survives_sigkill_of_relay_and_worker(firm, running):
    numbers = [f"+1555{n:07d}" for n in random.sample(range(10_000_000), CLIENTS)]
    stop, kills, both_killed = asyncio.Event(), [], asyncio.Event()
    killer = asyncio.create_task(_kill_and_restart(running, stop, kills, both_killed))
    try:
        await _burst(firm, numbers, both_killed)
    finally:
        stop.set()
        await killer
    for name in ("relay", "worker"):
        if not running.is_running(name):
            await asyncio.to_thread(running.restart, name)
    assert {"relay", "worker"} <= set(kills), f"both must be killed at least once, got {kills}"
    print(f"killed: {kills}")

    def rows():
        with psycopg.connect(running.settings.database_url) as conn:
            return conn.execute(
                "SELECT conversation_id, seq, message_id FROM pj_messages.messages WHERE firm_id = %s "
                "ORDER BY conversation_id, seq", (firm.firm_id,)).fetchall()

    async def all_arrived():
        found = await asyncio.to_thread(rows)
        return found if len(found) >= CLIENTS * TEXTS_EACH else None
    await eventually(all_arrived, timeout=120, interval=0.5)
    await asyncio.sleep(2)  # anything still in flight would show up as an extra row now
    assert len(await asyncio.to_thread(rows)) == CLIENTS * TEXTS_EACH

    for number in numbers:
        conv = await firm.conversation_with(number)
        bodies = [m["body"] for m in await firm.messages(conv["id"], limit=200)]
        assert bodies == [f"{number[-4:]}-{i:02d}" for i in range(TEXTS_EACH)], number
        # The inbox projection counted each text exactly once too (nobody has read any).
        assert conv["unread"] == TEXTS_EACH, (number, conv)


async def test_a_worker_resumes_from_postgres_even_when_kafka_committed_past_unapplied_events(firm, running):
    """A consumer group's committed offsets can be past events that were never applied
    (the Faust worker this replaced committed a batch even when its agent died halfway
    through it; anything else may commit for the group). The worker must resume from
    PostgreSQL's positions instead, or those texts never show up anywhere."""
    settings = running.settings
    phone = random_number()
    await firm.text_in(phone, "before")
    conv = await firm.conversation_with(phone)
    await asyncio.to_thread(running.kill, "worker", signal.SIGKILL)
    for i in range(3):
        await firm.text_in(phone, f"while the worker was down {i}")

    async def relayed() -> bool:
        code, out, err = await run_cli(settings, "projections", "status", "--json")
        assert code == 0, err
        return json.loads(out)["relay"]["lag"] == 0
    await eventually(relayed, timeout=30)

    async def commit_at_the_end() -> bool:
        # What a consumer that acked an unapplied batch leaves behind: the group's committed
        # offsets at the end of every partition. Accepted once the killed member's
        # session has expired and the group is empty.
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(settings.events_topic, p)
                   for p in await partitions_of(settings.kafka_bootstrap, settings.events_topic)]
            consumer.assign(tps)
            await consumer.commit(await consumer.end_offsets(tps))
            return True
        except KafkaError:
            return False
        finally:
            await consumer.stop()
    await eventually(commit_at_the_end, timeout=60, interval=1.0)
    await asyncio.to_thread(running.restart, "worker")
    await firm.text_in(phone, "after")

    async def all_five():
        bodies = [m["body"] for m in await firm.messages(conv["id"])]
        return bodies if len(bodies) >= 5 else None
    assert await eventually(all_five, timeout=60) == \
        ["before"] + [f"while the worker was down {i}" for i in range(3)] + ["after"]
