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
from typing import Any, Callable
from uuid import UUID

from domain.texting import Texting

log = logging.getLogger("firmtext.group_commit")


class GroupCommitter:
    def __init__(self, texting: Texting, max_batch: int = 256, max_wait: float = 0.002) -> None:
        self.texting, self.max_batch, self.max_wait = texting, max_batch, max_wait
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self.batches = self.commands = self.fallbacks = 0

    async def submit(self, use_case: Callable[..., Any], *args: Any, loads: tuple[UUID, ...] = ()) -> Any:
        """Run ``use_case(unit, *args)`` (a domain/use_cases_*.py function) in the next group
        commit. ``loads``: aggregates it will read, loaded with the rest of its batch's in one
        round trip (a hint: what it reads beyond them is loaded as it asks)."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((use_case, args, loads, future))
        return await future

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(items) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    items.append(self._queue.get_nowait() if timeout <= 0 else
                                 await asyncio.wait_for(self._queue.get(), timeout))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            outcomes = await asyncio.to_thread(self._execute, [(fn, args, loads) for fn, args, loads, _ in items])
            for (*_, future), (ok, value) in zip(items, outcomes):
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)

    def _execute(self, commands: list) -> list[tuple[bool, Any]]:
        self.batches += 1
        self.commands += len(commands)
        if len(commands) > 1:
            try:
                uow = self.texting.unit()
                uow.preload([i for *_, loads in commands for i in loads])
                results = [use_case(uow, *args) for use_case, args, _ in commands]
                uow.commit()
                return [(True, r) for r in results]
            except Exception as exc:  # a refusal or a lost race: redo one by one
                self.fallbacks += 1
                log.debug("group commit of %d fell back to one-by-one: %s", len(commands), type(exc).__name__)
        outcomes = []
        for use_case, args, _ in commands:
            try:
                outcomes.append((True, self.texting.run(use_case, *args)))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes
