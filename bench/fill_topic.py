"""Write a generated event log (bench/events.py) into a fresh Kafka topic.

``python -m bench.fill_topic BOOTSTRAP TOPIC COUNT`` from the repository root (or
:func:`fill`, as bench/run.py does).
"""
from __future__ import annotations

import asyncio
import sys
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.events import generate
from streams.kafka import TOPIC_CONFIG


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            await admin.delete_topics([topic])
            await asyncio.sleep(2)
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=dict(TOPIC_CONFIG))])
    finally:
        await admin.close()


async def fill(bootstrap: str, topic: str, count: int, partitions: int = 6, firms: int = 200) -> dict:
    """Create ``topic`` afresh and write ``count`` events; returns what it took."""
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=50,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    began, written, size, futures = time.monotonic(), 0, 0, []
    try:
        for key, value in generate(count, firms=firms):
            futures.append(await producer.send(topic, value, key=key))
            written += 1
            size += len(value)
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    seconds = time.monotonic() - began
    return {"events": written, "bytes": size, "seconds": seconds, "events_per_second": written / seconds}


if __name__ == "__main__":
    print(asyncio.run(fill(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
