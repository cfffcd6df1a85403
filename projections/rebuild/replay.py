"""The replay half of a rebuild: some partitions of the topic, read from where the
rebuild schemas' tracking says up to the end, applied in fresh (bulk) mode.

A rebuild runs one replayer in-process, or one per child process, each with its own
partitions: every row of a projection derives from one firm's events and a firm's
events share a partition (DESIGN.md point 3), so replayers never touch the same row,
and tracking is per partition. Three stages overlap inside a replayer: reading Kafka
(the event loop), applying a batch in memory (a thread) and writing the previous batch
to PostgreSQL (another thread: the GIL is free while PostgreSQL works).
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import signal
import time
from dataclasses import dataclass
from typing import Callable

import psycopg

from adapters.search_index import digests_of_database
from projections.registry import ALL
from projections.rebuild.schemas import rebuild_schema
from projections.rebuild.topic_range import TopicRange
from projections.writer import ProjectionWriter
from domain.envelope import Event


class Interrupted(Exception):
    """Stopped on request (tests); the rebuild schemas stay and the next run resumes."""


@dataclass(frozen=True)
class ReplayJob:
    """What one replayer does (picklable: it crosses into child processes)."""

    database_url: str
    bootstrap: str
    topic: str
    projections: tuple[str, ...]
    partitions: tuple[int, ...] | None = None  # None: all
    batch_size: int = 50_000
    settle_lag: int = 500
    stop_after_batches: int | None = None
    master_key: str | None = None  # keyed projections (search) derive their digests' key from it


ProgressSink = Callable[[dict], None]  # {"phase": …, "due": n} or {"phase": …, "applied": n}


class Replayer:
    def __init__(self, job: ReplayJob, report: ProgressSink) -> None:
        self.job, self.report = job, report
        self.batches = 0
        self._keys_pool = None
        self.set_aside: list[tuple] = []  # projection_failures rows this replayer wrote
        self.stages = {"load_existing_rows": 0.0, "kafka_fetch_wait": 0.0, "decode_envelopes": 0.0,
                       "apply_in_memory": 0.0, "write_postgres": 0.0, "waiting_for_write": 0.0}

    def _writer(self) -> ProjectionWriter:
        conn = psycopg.connect(self.job.database_url, autocommit=True)
        conn.execute("SET synchronous_commit = off")  # a crash loses at most the last batches: re-read
        projections = [ALL[name] for name in self.job.projections]
        keys = None
        if self.job.master_key is not None:
            keys, self._keys_pool = digests_of_database(self.job.database_url, self.job.master_key)
        return ProjectionWriter(conn, projections, fresh=True, schemas={p.name: rebuild_schema(p) for p in projections},
                                keys=keys)

    def _mine(self, offsets: dict[int, int]) -> dict[int, int]:
        wanted = self.job.partitions
        return {p: o for p, o in offsets.items() if wanted is None or p in wanted}

    async def _replay(self, log: TopicRange, writer: ProjectionWriter, positions: dict[int, int],
                      until: dict[int, int], phase: str) -> None:
        """Apply every event between ``positions`` and ``until``; moves ``positions``."""
        self.report({"phase": phase, "due": sum(max(0, end - positions.get(p, 0)) for p, end in until.items())})
        writing: asyncio.Task | None = None
        buffer: list[Event] = []

        async def written() -> None:
            nonlocal writing
            if writing is None:
                return
            began, batch = time.perf_counter(), writing.batch  # type: ignore[attr-defined]
            try:
                await writing
            finally:
                writing = None
                self.stages["waiting_for_write"] += time.perf_counter() - began
            for event in batch:
                positions[event.partition] = max(positions.get(event.partition, 0), event.offset + 1)
            gc.freeze()  # see run(): what survived a batch is never scanned again
            self.batches += 1
            self.report({"phase": phase, "applied": len(batch)})
            if self.job.stop_after_batches is not None and self.batches >= self.job.stop_after_batches:
                raise Interrupted(f"stopped after {self.batches} batches, as asked")

        async def hand_over(batch: list[Event]) -> None:
            nonlocal writing
            began = time.perf_counter()
            prepared = await asyncio.to_thread(writer.prepare, batch)
            self.stages["apply_in_memory"] += time.perf_counter() - began
            await written()  # one batch in flight at a time: tracking commits in order
            writing = asyncio.create_task(asyncio.to_thread(writer.write, prepared))
            writing.batch = batch  # type: ignore[attr-defined]

        try:
            async for events in log.read(positions, until, max_records=self.job.batch_size):
                buffer.extend(events)
                if len(buffer) >= self.job.batch_size:
                    await hand_over(buffer)
                    buffer = []
            if buffer:
                await hand_over(buffer)
            await written()
        finally:
            if writing is not None:  # failing: let the write in flight end before the connection does
                await asyncio.wait([writing])
        for partition, end in until.items():  # skipped records (not envelopes) count as read
            positions[partition] = max(positions.get(partition, 0), end)

    async def run(self) -> dict:
        """Replay up to the end offsets seen at the start, then catch up with what was
        published meanwhile until the lag is small; returns the time per stage."""
        # Millions of acyclic rows and envelopes stay in memory: the cyclic collector would
        # rescan them again and again (a third of the run). It stays off, and what survives
        # a batch is frozen (a cycle or two of aiokafka's may leak until the run ends).
        gc.disable()
        began = time.perf_counter()
        writer = await asyncio.to_thread(self._writer)
        try:
            positions = self._mine(await asyncio.to_thread(writer.resume_offsets))
            self.stages["load_existing_rows"] = time.perf_counter() - began
            async with TopicRange(self.job.bootstrap, self.job.topic) as log:
                await self._replay(log, writer, positions, self._mine(await log.end_offsets()), "replay")
                for _ in range(20):  # catching up, but never forever
                    until = self._mine(await log.end_offsets())
                    if sum(max(0, end - positions.get(p, 0)) for p, end in until.items()) <= self.job.settle_lag:
                        break
                    await self._replay(log, writer, positions, until, "catch-up")
            self.stages.update(kafka_fetch_wait=log.fetch_seconds, decode_envelopes=log.decode_seconds,
                               write_postgres=writer.flush_seconds())
            return self.stages
        finally:
            self.set_aside = list(writer.set_aside)
            await asyncio.to_thread(writer.conn.close)
            if self._keys_pool is not None:
                await asyncio.to_thread(self._keys_pool.close)
            gc.unfreeze()
            gc.enable()


def _die_with(parent: int) -> None:
    """A replayer must not outlive its rebuild (a rerun would race it on the same rows)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's join/kill is the only guard
        pass
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


def replay_in_child(job: ReplayJob, messages, parent: int) -> None:
    """Child-process entry point: progress and the outcome go to the ``messages`` queue."""
    _die_with(parent)
    try:
        replayer = Replayer(job, lambda m: messages.put(("progress", m)))
        stages = asyncio.run(replayer.run())
        messages.put(("set_aside", replayer.set_aside))
        messages.put(("done", stages))
    except Interrupted as stop:
        messages.put(("interrupted", str(stop)))
    except BaseException as exc:  # the parent reports it; a child's traceback helps nobody at 3 a.m.
        messages.put(("failed", f"{type(exc).__name__}: {exc}"))
