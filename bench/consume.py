"""What consuming the events topic costs the worker, apart from applying the events.

Runs a consumer in a child process with sinks that only count (so only the consuming is
measured), and reports its CPU per event and events per second, for:

- a backlog: ``EVENTS`` events already on a fresh topic, read from offset 0;
- a trickle: events produced at ``RATE`` a second while the consumer runs, as under
  ingest, where every small fetch pays the per-wake costs. Both consumers fetch with the
  feed's busy settings (streams/feed.py: the broker gathers up to BUSY_WAIT_MS).

Consumers: ``worker`` (the worker's feed and agents, streams/worker.py, with sinks that
count) and ``aiokafka`` (a bare ``getmany`` loop: the same-run ceiling). Until issue 11's
session 14 the worker consumed through Faust's agents; this bench measured those too, in
the same hour (docs/architecture.md, "Session 14", keeps those figures). ``python -m bench.consume BOOTSTRAP`` from
the repository root.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.events import generate
from bench.fill_topic import create_topic, fill
from streams.feed import BUSY_MIN_BYTES, BUSY_WAIT_MS

EVENTS = 30_000
RATE = 1_000  # events a second in the trickle
TRICKLE_SECONDS = 10


def _counting_worker(bootstrap: str, topic: str, total: int, out) -> None:
    import uvloop

    from firmtext.config import Settings
    from streams.agents import WorkerParts
    from streams.worker import Worker

    seen = {"project": 0, "record": 0}
    began = {}
    done = asyncio.Event()

    def counter(name):
        def sink(events):
            if not began:
                began.update(cpu=time.process_time(), wall=time.monotonic())
            seen[name] += len(events)
            if seen["project"] >= total and seen["record"] >= total and "cpu" not in out_:
                out_.update(cpu=time.process_time() - began["cpu"], wall=time.monotonic() - began["wall"])
                out_["loop"].call_soon_threadsafe(done.set)
        return sink

    out_: dict = {}
    settings = replace(Settings.from_env(secrets=False), var_dir=Path(tempfile.mkdtemp()),
                       app_id=f"consume-bench-{os.getpid()}", events_topic=topic)
    parts = WorkerParts(project=counter("project"), record=counter("record"), positions=lambda: ({}, {}))

    async def main():
        out_["loop"] = asyncio.get_running_loop()
        await Worker(settings, bootstrap, parts).run(done)

    uvloop.run(main())
    out.put({"events": total, "cpu_s": out_["cpu"], "wall_s": out_["wall"]})


def _counting_aiokafka(bootstrap: str, topic: str, total: int, out) -> None:
    import orjson

    async def main():
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"consume-bench-{os.getpid()}",
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    fetch_max_wait_ms=BUSY_WAIT_MS, fetch_min_bytes=BUSY_MIN_BYTES)
        await consumer.start()
        seen, began = 0, None
        try:
            while seen < total:
                batches = await consumer.getmany(timeout_ms=1000, max_records=4000)
                for records in batches.values():
                    if began is None:
                        began = (time.process_time(), time.monotonic())
                    for record in records:
                        orjson.loads(record.value)
                    seen += len(records)
        finally:
            await consumer.stop()
        out.put({"events": total, "cpu_s": time.process_time() - began[0], "wall_s": time.monotonic() - began[1]})

    asyncio.run(main())


CONSUMERS = {"worker": _counting_worker, "aiokafka": _counting_aiokafka}


async def _trickle(bootstrap: str, topic: str, count: int, rate: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    await producer.start()
    try:
        began = time.monotonic()
        for i, (key, value) in enumerate(generate(count)):
            due = began + i / rate
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def measure(bootstrap: str, consumer: str, mode: str) -> dict:
    """One consumer over one fresh topic; ``mode`` is ``backlog`` or ``trickle``."""
    topic = f"consume-bench-{consumer}-{mode}-{os.getpid()}"
    count = EVENTS if mode == "backlog" else RATE * TRICKLE_SECONDS
    if mode == "backlog":
        asyncio.run(fill(bootstrap, topic, count))
    else:
        asyncio.run(create_topic(bootstrap, topic, 6))
    out = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(target=CONSUMERS[consumer], args=(bootstrap, topic, count, out))
    child.start()
    if mode == "trickle":
        time.sleep(8)  # the group formed and the partitions assigned
        asyncio.run(_trickle(bootstrap, topic, count, RATE))
    result = out.get(timeout=300)
    child.join(10)
    if child.is_alive():
        child.kill()
    result.update(consumer=consumer, mode=mode, cpu_us_per_event=1e6 * result["cpu_s"] / count,
                  events_per_second=count / result["wall_s"])
    return result


def run(bootstrap: str, say=print) -> dict:
    """Every consumer in both modes; writes results/consume.json."""
    from bench.run import RESULTS

    runs = []
    for mode in ("backlog", "trickle"):
        for name in CONSUMERS:
            runs.append(measure(bootstrap, name, mode))
            say("  " + json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in runs[-1].items()}))
    result = {"events_backlog": EVENTS, "trickle_rate_per_second": RATE, "runs": runs}
    (RESULTS / "consume.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    run(sys.argv[1])
