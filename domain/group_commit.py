"""Group commit for the hot write path (DESIGN.md, "Known constraints").

eventsourcing on PostgreSQL saves ~450 single-event transactions a second (each takes
a table lock to keep the notification order total) but thousands of events a second
when many aggregates are saved together. Use cases submitted here are gathered for a
few milliseconds and decided in order in ONE unit of work (domain/unit_of_work.py), so
they share aggregate instances and are stored in one transaction, new data keys
included; after-commit effects run only once it committed. If any use case fails, or
the transaction loses a concurrency race, the unit is dropped (nothing stored, no effect
run) and every use case runs again in a unit of its own, with the ordinary retry on a
lost race (``Texting.run``), so the outcome is always what one-by-one execution gives.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable
from uuid import UUID

from domain.texting import Texting

log = logging.getLogger("firmtext.group_commit")


class GroupCommitter:
    """``executors`` batches may run at once, each in a thread of its own: a command goes to
    the executor its first ``loads`` id maps to (a command without one, to the first), so
    one conversation's commands are always decided in order, by one executor, and two
    executors never decide on the same conversation (they would only lose the race). Their
    transactions commit one at a time (the event store's table lock); what overlaps is the
    loading and the deciding of one batch with the commit of another."""

    def __init__(self, texting: Texting, max_batch: int = 256, max_wait: float = 0.002,
                 executors: int = 1) -> None:
        self.texting, self.max_batch, self.max_wait = texting, max_batch, max_wait
        self._queues: list[asyncio.Queue | None] = [None] * max(1, executors)
        self._tasks: list[asyncio.Task | None] = [None] * max(1, executors)
        self.batches = self.commands = self.fallbacks = 0
        self._counting = threading.Lock()  # the counters, shared by the executors' threads

    async def submit(self, use_case: Callable[..., Any], *args: Any, loads: tuple[UUID, ...] = (),
                     sids: tuple[tuple[UUID, str], ...] = ()) -> Any:
        """Run ``use_case(unit, *args)`` (a domain/use_cases_*.py function) in the next group
        commit. ``loads``: aggregates it will read, loaded with the rest of its batch's in one
        round trip; ``sids``: (conversation, carrier sid) pairs it will look up, likewise (hints:
        what it reads beyond them is loaded as it asks)."""
        lane = loads[0].int % len(self._queues) if loads else 0
        task = self._tasks[lane]
        if task is None or task.done():
            self._queues[lane] = asyncio.Queue()
            self._tasks[lane] = asyncio.create_task(self._run(self._queues[lane]), name=f"group-commit-{lane}")
        future = asyncio.get_running_loop().create_future()
        await self._queues[lane].put((use_case, args, (loads, sids), future))
        return await future

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            items = [await queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(items) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    items.append(queue.get_nowait() if timeout <= 0 else
                                 await asyncio.wait_for(queue.get(), timeout))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            outcomes = await asyncio.to_thread(self._execute, [(fn, args, hints) for fn, args, hints, _ in items])
            for (*_, future), (ok, value) in zip(items, outcomes):
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)

    def _execute(self, commands: list) -> list[tuple[bool, Any]]:
        with self._counting:
            self.batches += 1
            self.commands += len(commands)
        if len(commands) > 1:
            try:
                uow = self.texting.unit()
                uow.preload([i for *_, (loads, _) in commands for i in loads],
                            [key for *_, (_, sids) in commands for key in sids])
                results = [use_case(uow, *args) for use_case, args, _ in commands]
                uow.commit()
                return [(True, r) for r in results]
            except Exception as exc:  # a refusal or a lost race: redo one by one
                with self._counting:
                    self.fallbacks += 1
                log.debug("group commit of %d fell back to one-by-one: %s", len(commands), type(exc).__name__)
        outcomes = []
        for use_case, args, _ in commands:
            try:
                outcomes.append((True, self.texting.run(use_case, *args)))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes
