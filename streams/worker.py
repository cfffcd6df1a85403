"""The worker: the projection agent and the send agent on ``firmtext.events``, the sending
lanes, the mailer and the media sweep, in one asyncio process.

The agents are fed by one consumer (streams/feed.py) and work through WorkerParts
(streams/agents.py, streams/worker_parts.py), which tests replace. Positions live in
PostgreSQL, never in Kafka's committed offsets:

- Whenever partitions are assigned (every rebalance, the first included) each one is
  moved to the earlier of the projections' and the sender's positions in PostgreSQL,
  before anything of it is fetched.
- Each agent checks that the offsets it is handed follow on from the last ones it
  handled (:class:`Continuity`). A gap is never applied past: the partition is moved
  back to the first missing offset and read again.
- A batch is never skipped: one whose sink fails is tried again until it is applied.

So a worker killed or crashing at any instant neither skips nor double-applies an event.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Awaitable, Callable

from firmtext.config import Settings
from streams.agents import (PROJECT_BATCH, PROJECT_WITHIN, SEND_BATCH, SEND_WITHIN, Agent, AgentWork, WorkerParts,
                            consumer_start, projection_start)
from streams.feed import EventFeed

if TYPE_CHECKING:  # built by the composition root (firmtext/commands/worker.py)
    from firmtext.bootstrap import Container

log = logging.getLogger("firmtext.worker")


class Worker:
    """The feed and the two agents (``agents["project"]``, ``agents["send"]``) over
    ``parts``, plus ``chores``: other coroutines the worker runs as long as it runs."""

    def __init__(self, settings: Settings, bootstrap: str, parts: WorkerParts,
                 chores: dict[str, Callable[[], Awaitable[None]]] | None = None) -> None:
        self.parts, self.chores = parts, dict(chores or {})
        self.feed: EventFeed
        projected = AgentWork("projections", parts.project, parts.positions, projection_start, self._seek)
        sent = AgentWork("sender", parts.record, parts.positions, consumer_start, self._seek)
        self.agents = {"project": Agent(projected, PROJECT_BATCH, PROJECT_WITHIN),
                       "send": Agent(sent, SEND_BATCH, SEND_WITHIN)}
        self.feed = EventFeed(bootstrap, settings.events_topic, settings.app_id, list(self.agents.values()),
                              self.starts)

    async def _seek(self, partition: int, offset: int) -> None:
        await self.feed.seek(partition, offset)

    async def starts(self, partitions: set[int]) -> dict[int, int]:
        """Where each newly assigned partition starts: the earlier of the projections' and
        the sender's positions in PostgreSQL (they share the consumer)."""
        projection_at, sender_at = await asyncio.to_thread(self.parts.positions)
        starts = {p: consumer_start(p, projection_at, sender_at) for p in partitions}
        self.agents["project"].work.continuity.reset({p: projection_at.get(p, 0) for p in partitions})
        self.agents["send"].work.continuity.reset(starts)
        return starts

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; a task that ends on its own (a chore that raised, the
        feed losing its consumer) ends the worker with its error, for the supervisor
        (firmtext/commands/worker.py) to restart it."""
        await self.feed.start()
        tasks = [asyncio.create_task(self.feed.run(), name="feed")]
        tasks += [asyncio.create_task(agent.run(), name=name) for name, agent in self.agents.items()]
        tasks += [asyncio.create_task(chore(), name=name) for name, chore in self.chores.items()]
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopping:
                    raise RuntimeError(f"the worker's {task.get_name()} ended") from task.exception()
        finally:
            stopping.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.feed.stop()


def every(seconds: float, tick: Callable[[], Awaitable[object]], name: str) -> Callable[[], Awaitable[None]]:
    """A chore running ``tick`` every ``seconds``; a tick that fails is logged, never fatal."""
    async def chore() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await tick()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", name, seconds)
    return chore


def create_worker(settings: Settings, container: "Container", parts: WorkerParts | None = None) -> Worker:
    """Build (not start) the worker for ``settings``: the agents over PostgreSQL, the
    sending lanes, the media sweep and the mailer."""
    from adapters.media_sweep import sweep_shredded_media
    from streams.mailer import Mailer
    from streams.worker_parts import PostgresParts

    parts = parts or PostgresParts(settings, container).parts()
    mailer = Mailer(container)  # connects on its first tick

    async def sweep_media() -> None:
        await asyncio.to_thread(sweep_shredded_media, container.media_store, container.pool)

    chores = {"mail": every(1.0, mailer.tick, "mail"),
              "sweep-shredded-media": every(60.0, sweep_media, "the shredded-media sweep")}
    if parts.run_lanes is not None:
        chores["sending-lanes"] = parts.run_lanes
    return Worker(settings, container.kafka_bootstrap, parts, chores)


async def serve(worker: Worker) -> None:
    """Run ``worker`` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)
