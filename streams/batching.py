"""Batches of a Faust stream's events for the worker's agents.

Faust's ``take_events(max, within)`` flushes on a timer that ticks every ``within``
seconds whatever arrives: an idle worker wakes hundreds of times a second (each wake a
``mode`` ``wait_first``, which builds a task per thing it waits on), a lone event waits
for the next tick, and while a batch is being applied nothing new is buffered, so what
arrived meanwhile waits for one more tick after it. Under ingest (py-spy, issue 11),
``wait_first`` was about a sixth of the worker's CPU samples (not all of them this tick's,
and an A/B under load could not tell the two batchings apart); idle, the ticks were about
two thirds of the worker's CPU (7.9 % of a core with them, 2.5 % with this).

:func:`take_batches` hands a batch over ``within`` seconds after its first event came
(at once when it holds ``max_``), waits on nothing when nothing comes, and keeps
buffering while the previous batch is applied, so under load a batch is what arrived
during the last one. Events are acked once the code that took their batch is done with
it (or leaves the loop), as ``take_events`` does; the worker's positions live in
PostgreSQL either way (streams/worker.py).
"""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator


def take_batches(stream: Any, max_: int, within: float) -> AsyncIterator[list]:
    """Lists of up to ``max_`` events of ``stream`` (a Faust stream), each handed over at
    most ``within`` seconds after its first event was buffered."""
    batches = _batches(stream, max_, within)
    # As Faust does for its own buffering generators: the stream closes what is left
    # of one when it stops, so its ``finally`` (acks, the processor removed) always runs.
    stream._active_agens.add(batches)
    return batches


async def _batches(stream: Any, max_: int, within: float) -> AsyncIterator[list]:
    buffered: list = []
    arrived, full, room = asyncio.Event(), asyncio.Event(), asyncio.Event()
    room.set()

    async def buffer(value):  # a stream processor: runs for each event as Faust reads it
        while len(buffered) >= max_:  # the batch is full until it is taken: hold the stream back
            room.clear()
            await room.wait()
        buffered.append(stream.current_event)
        arrived.set()
        if len(buffered) >= max_:
            full.set()
        return value

    acks, stream.enable_acks = stream.enable_acks, False  # acked here, after each batch
    stream.add_processor(buffer)
    stream._enable_passive(aiter(stream.channel))  # Faust reads the channel into ``buffer``
    batch: list = []
    try:
        while not stream.should_stop:
            await arrived.wait()
            if not full.is_set():
                try:
                    await asyncio.wait_for(full.wait(), within)
                except asyncio.TimeoutError:
                    pass
            batch = buffered[:]
            buffered.clear()
            arrived.clear()
            full.clear()
            room.set()
            yield batch
            taken, batch = batch, []
            for event in taken:
                await stream.ack(event)
    finally:
        for event in batch:  # handed over, then the taker left or failed: still acked
            await stream.ack(event)
        stream.enable_acks = acks
        stream._processors.remove(buffer)
