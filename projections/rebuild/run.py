"""Rebuilding projections from offset 0 while the live ones keep serving.

1. Each chosen projection gets ``pj_<name>__rebuild``, without its secondary indexes
   (created, or resumed where an interrupted run left it: its tracking says how far).
2. Replayers (projections/rebuild/replay.py; ``jobs`` child processes splitting the
   partitions, or one in-process) read the topic directly up to its end and keep
   catching up until the lag is small.
3. The secondary indexes are built and the tables analysed.
4. The swap, in one transaction: SWAP_LOCK taken exclusively (the live worker finishes
   its batch in flight, then waits), the rebuilt schemas catch up to at least where the
   live ones are, then the renames. After the commit the worker carries on from the
   rebuilt tracking: it neither loses nor re-applies an event. The old schemas are
   dropped last.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass, field
from typing import Callable

import psycopg

from projections.base import Projection
from projections.rebuild.replay import Interrupted, Replayer, ReplayJob, replay_in_child
from projections.rebuild.schemas import (build_indexes, claim_rebuilds, create_without_indexes, drop_schema, old_schema,
                                         rebuild_schema, schema_exists)
from projections.rebuild.swap import swap_in_live
from projections.rebuild.topic_range import end_offsets, partitions_of
from projections.writer import tracked

__all__ = ["Interrupted", "Progress", "Rebuild", "Report"]


@dataclass
class Progress:
    phase: str  # "replay", "catch-up", "indexes", "swap" or "done"
    applied: int = 0  # events applied by this run
    due: int = 0  # events this run has to apply so far (grows while catching up)
    seconds: float = 0.0


@dataclass
class Report:
    projections: list[str]
    resumed: list[str]
    events: int
    seconds: float
    swapped: bool
    jobs: int
    stages: dict[str, float] = field(default_factory=dict)
    # (projection, partition, offset, notification id, event id, type, error) of each event
    # this run set aside, as the live worker would have (projection_failures holds them too).
    set_aside: list[tuple] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def split(sizes: dict[int, int], jobs: int) -> list[tuple[int, ...]]:
    """Partitions into at most ``jobs`` groups of similar total size (largest first)."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(jobs, len(sizes))))]
    totals = [0] * len(groups)
    for partition in sorted(sizes, key=lambda p: -sizes[p]):
        smallest = totals.index(min(totals))
        groups[smallest].append(partition)
        totals[smallest] += sizes[partition]
    return [tuple(sorted(g)) for g in groups if g]


class Rebuild:
    """One rebuild of ``projections`` from ``topic``; ``await run()``."""

    def __init__(self, database_url: str, bootstrap: str, topic: str, projections: list[Projection], *,
                 restart: bool = False, swap: bool = True, jobs: int = 1, batch_size: int = 50_000,
                 settle_lag: int = 500, on_progress: Callable[[Progress], None] | None = None,
                 stop_after_batches: int | None = None, master_key: str | None = None):
        self.database_url, self.bootstrap, self.topic = database_url, bootstrap, topic
        # A keyed projection (search) cannot be rebuilt without the master key its digests'
        # key derives from: it is left as it is rather than swapped for an empty one.
        projections = [p for p in projections if master_key is not None or not p.keyed]
        self.projections, self.restart, self.swap, self.jobs = projections, restart, swap, jobs
        self.master_key = master_key
        self.batch_size, self.settle_lag, self.stop_after_batches = batch_size, settle_lag, stop_after_batches
        self.on_progress = on_progress
        self.progress = Progress("replay")
        self.set_aside: list[tuple] = []
        self._began = 0.0

    def _tick(self, message: dict) -> None:
        p = self.progress
        p.phase = message.get("phase", p.phase)
        p.applied += message.get("applied", 0)
        p.due += message.get("due", 0)
        p.seconds = time.monotonic() - self._began
        if self.on_progress:
            self.on_progress(p)

    # -- 1. schemas -------------------------------------------------------------------
    def _prepare(self) -> list[str]:
        """Create or keep the rebuild schemas; returns the names of those resumed."""
        resumed = []
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for projection in self.projections:
                if schema_exists(conn, old_schema(projection)) and schema_exists(conn, projection.schema):
                    drop_schema(conn, old_schema(projection))  # a swap committed, its drop did not
                if self.restart:
                    drop_schema(conn, rebuild_schema(projection))
                if not create_without_indexes(conn, projection, rebuild_schema(projection)) and \
                        tracked(conn, rebuild_schema(projection)):
                    resumed.append(projection.name)
        return resumed

    # -- 2. replay ----------------------------------------------------------------------
    def _job(self, partitions: tuple[int, ...] | None) -> ReplayJob:
        return ReplayJob(self.database_url, self.bootstrap, self.topic, tuple(p.name for p in self.projections),
                         partitions, self.batch_size, self.settle_lag, self.stop_after_batches, self.master_key)

    async def _replay(self) -> tuple[int, dict[str, float]]:
        """Run the replayers; returns how many ran and their summed time per stage."""
        if self.jobs <= 1:
            replayer = Replayer(self._job(None), self._tick)
            try:
                return 1, await replayer.run()
            finally:
                self.set_aside.extend(replayer.set_aside)
        sizes = await end_offsets(self.bootstrap, self.topic)
        groups = split(sizes, self.jobs)
        context = multiprocessing.get_context("spawn")  # no inherited connections or event loop
        messages = context.Queue()
        children = [context.Process(target=replay_in_child, args=(self._job(g), messages, os.getpid()),
                                    daemon=True) for g in groups]
        for child in children:
            child.start()
        outcomes, stages = [], {}
        try:
            while len(outcomes) < len(children):
                try:
                    kind, body = await asyncio.to_thread(messages.get, True, 1.0)
                except queue.Empty:
                    if not any(c.is_alive() for c in children) and messages.empty():
                        raise RuntimeError("a rebuild process died without a word (killed?)") from None
                    continue
                if kind == "progress":
                    self._tick(body)
                    continue
                if kind == "set_aside":
                    self.set_aside.extend(tuple(row) for row in body)
                    continue
                if kind == "failed":  # the others stop too (finally): the rerun resumes them all
                    raise RuntimeError(body)
                outcomes.append((kind, body))
                for name, seconds in (body.items() if kind == "done" else ()):
                    stages[name] = stages.get(name, 0.0) + seconds
        finally:
            for child in children:
                if child.is_alive() and len(outcomes) < len(children):
                    child.kill()
                child.join()
        stopped = [body for kind, body in outcomes if kind == "interrupted"]
        if stopped:
            raise Interrupted(stopped[0])
        return len(children), stages

    # -- 3. indexes, 4. swap ----------------------------------------------------------------
    def _build_indexes(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for projection in self.projections:
                build_indexes(conn, projection, rebuild_schema(projection))

    # -- the whole run -----------------------------------------------------------------
    async def run(self) -> Report:
        """Rebuild, catch up, swap (unless ``swap=False``); returns what it did."""
        self._began = time.monotonic()
        await partitions_of(self.bootstrap, self.topic)  # a wrong topic fails before anything is created
        guard = await asyncio.to_thread(psycopg.connect, self.database_url, autocommit=True)
        try:
            await asyncio.to_thread(claim_rebuilds, guard, self.projections)
            return await self._run()
        finally:
            await asyncio.to_thread(guard.close)

    async def _run(self) -> Report:
        resumed = await asyncio.to_thread(self._prepare)
        jobs, stages = await self._replay()
        began = time.monotonic()
        self._tick({"phase": "indexes"})
        await asyncio.to_thread(self._build_indexes)
        stages["build_indexes"] = time.monotonic() - began
        if self.swap:
            began = time.monotonic()
            self._tick({"phase": "swap"})
            await swap_in_live(self.database_url, self.bootstrap, self.topic, self.projections, self.master_key)
            stages["swap"] = time.monotonic() - began
        self._tick({"phase": "done"})
        return Report([p.name for p in self.projections], resumed, self.progress.applied,
                      time.monotonic() - self._began, self.swap, jobs, stages,
                      sorted(self.set_aside, key=lambda row: (row[1], row[2], row[0])))
