"""Reading the events log as an auditor does: all of it, from offset 0, up to a fixed end.

Two sources give the same :class:`LogRecord`: the Kafka topic itself (here), read
without a consumer group, so nothing is committed and no other consumer is disturbed;
and a JSON-lines copy written by ``firmtext audit dump`` (streams/log_dump.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from domain.envelope import decode

STALL_SECONDS = 30.0  # no progress for this long while records are still due: give up loudly


@dataclass(frozen=True)
class LogRecord:
    """One record of the log; ``line`` is set when it came from a dump file."""

    partition: int
    offset: int
    key: str | None
    value: bytes | None
    line: int | None = None
    problem: str | None = None  # the dump line could not even be read as a record

    def envelope(self) -> dict:
        """The envelope in this record; raises ValueError when there is none."""
        if self.problem:
            raise ValueError(self.problem)
        return decode(self.value or b"")


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition ids; LookupError when Kafka has no such topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for d in described if d["topic"] == topic for p in d["partitions"])
    if not partitions:
        raise LookupError(f"Kafka has no topic {topic!r} (check FIRMTEXT_EVENTS_TOPIC)")
    return partitions


class TopicReader:
    """``async with TopicReader(bootstrap, topic) as log: async for r in log.records(): ...``

    The end offsets are captured on entry, so the read terminates even while the relay
    keeps publishing; what arrives later is simply not part of this read.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.end_offsets: dict[int, int] = {}
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> "TopicReader":
        partitions = await topic_partitions(self.bootstrap, self.topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            self.end_offsets = {tp.partition: ends[tp] for tp in tps}
            await consumer.seek_to_beginning(*tps)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return self

    def describe(self) -> dict:
        """Where this read came from, for reports."""
        return {"topic": self.topic, "end_offsets": {str(p): o for p, o in self.end_offsets.items()}}

    async def __aexit__(self, *exc) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def records(self) -> AsyncIterator[LogRecord]:
        """Every record below the captured end offsets, partition by partition, in offset order."""
        consumer = self._consumer
        for partition, end in self.end_offsets.items():
            tp = TopicPartition(self.topic, partition)
            position, idle = await consumer.position(tp), 0.0
            while position < end:
                batch = (await consumer.getmany(tp, timeout_ms=1000, max_records=5000)).get(tp, [])
                idle = 0.0 if batch else idle + 1.0
                if idle >= STALL_SECONDS:
                    raise TimeoutError(f"partition {partition} stopped at offset {position} of {end}")
                for r in batch:
                    if r.offset >= end:
                        break
                    key = r.key.decode("utf-8", "replace") if r.key is not None else None
                    yield LogRecord(partition, r.offset, key, r.value)
                position = await consumer.position(tp)
