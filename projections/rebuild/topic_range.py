"""Reading the events topic directly for a rebuild: every partition, from given offsets
up to given end offsets, in large batches, without a consumer group (nothing is
committed, no live consumer is disturbed). Also the end offsets ``projections status``
compares the projections' tracking with.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from domain.envelope import Event, decode

log = logging.getLogger("firmtext.rebuild")
STALL_SECONDS = 60.0  # records still due but none arriving for this long: fail loudly


class TopicRange:
    """``async with TopicRange(bootstrap, topic) as log: async for events in log.read(start, until): ...``"""

    def __init__(self, bootstrap: str, topic: str, fetch_max_bytes: int = 64 * 1024 * 1024) -> None:
        self.bootstrap, self.topic, self.fetch_max_bytes = bootstrap, topic, fetch_max_bytes
        self.consumer: AIOKafkaConsumer | None = None
        self.partitions: list[int] = []
        self.fetch_seconds = 0.0  # waiting for Kafka
        self.decode_seconds = 0.0  # parsing envelopes

    async def __aenter__(self) -> "TopicRange":
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_bytes=self.fetch_max_bytes,
            max_partition_fetch_bytes=16 * 1024 * 1024, fetch_max_wait_ms=200)
        self.partitions = await partitions_of(self.bootstrap, self.topic)
        await self.consumer.start()
        try:
            self.consumer.assign([self._tp(p) for p in self.partitions])
        except BaseException:
            await self.consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def end_offsets(self) -> dict[int, int]:
        """partition -> the offset the next published record will get."""
        ends = await self.consumer.end_offsets([self._tp(p) for p in self.partitions])
        return {tp.partition: offset for tp, offset in ends.items()}

    async def read(self, start: dict[int, int], until: dict[int, int],
                   max_records: int = 20_000) -> AsyncIterator[list[Event]]:
        """Batches of events with ``start[p] <= offset < until[p]`` (missing start: 0), in
        offset order per partition. Records that are not envelopes are logged and skipped."""
        consumer = self.consumer
        due = {p: start.get(p, 0) for p in self.partitions if start.get(p, 0) < until.get(p, 0)}
        for p in self.partitions:
            tp = self._tp(p)
            if p in due:
                consumer.seek(tp, due[p])
                consumer.resume(tp)
            else:
                consumer.pause(tp)
        idle_since = time.monotonic()
        while due:
            began = time.perf_counter()
            fetched = await consumer.getmany(timeout_ms=500, max_records=max_records)
            self.fetch_seconds += time.perf_counter() - began
            began = time.perf_counter()
            events: list[Event] = []
            for tp, records in fetched.items():
                end = until[tp.partition]
                for r in records:
                    if r.offset >= end:
                        break
                    try:
                        events.append(Event(decode(r.value), tp.partition, r.offset))
                    except ValueError:
                        log.error("skipping a record that is not a firmtext envelope at %s/%s",
                                  tp.partition, r.offset)
            for p in list(due):
                # The position, not the last record: offsets may have gaps (control records).
                if await consumer.position(self._tp(p)) >= until[p]:
                    consumer.pause(self._tp(p))  # done; what follows is not ours
                    del due[p]
            self.decode_seconds += time.perf_counter() - began
            if fetched:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > STALL_SECONDS:
                raise TimeoutError(f"{self.topic}: no records for {STALL_SECONDS:.0f} s while "
                                   f"partitions {sorted(due)} still owe some (until {until})")
            if events:
                yield events
            await asyncio.sleep(0)


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partitions of ``topic`` (the admin API: a consumer's metadata may not know it yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = (await admin.describe_topics([topic]))[0]
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise LookupError(f"Kafka has no topic {topic!r} (check FIRMTEXT_EVENTS_TOPIC)")
    return sorted(p["partition"] for p in described["partitions"])


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> end offset of ``topic`` (one short-lived consumer)."""
    async with TopicRange(bootstrap, topic) as log_:
        return await log_.end_offsets()
