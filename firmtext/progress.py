"""Progress of long operator commands (a rebuild) on stderr, drawn by rich.

On a terminal rich draws a live bar with rate and ETA. Elsewhere (a log file, CI) a
live display would print nothing until the end, so a plain line is written every
``every`` seconds instead: a log then shows how fast things went, without a flood.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn


class RateColumn(TextColumn):
    """Items per second since the start (rich's own speed column is for bytes)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return f"{rate:,.0f}/s"


class RebuildProgress:
    """``update(label, done, total)`` as often as you like; ``close()`` at the end."""

    def __init__(self, console: Console | None = None, every: float = 5.0) -> None:
        self.console = console or Console(stderr=True)
        self.every, self._last, self._task = every, 0.0, None
        self.started = time.monotonic()
        self._live = None
        if self.console.is_terminal:
            self._live = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                  MofNCompleteColumn(), RateColumn(), TimeRemainingColumn(), console=self.console)
            self._live.start()

    def update(self, label: str, done: int, total: int, force: bool = False) -> None:
        if self._live is not None:
            if self._task is None:
                self._task = self._live.add_task(label, total=total or None)
            self._live.update(self._task, description=label, completed=done, total=total or None)
            return
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            seconds = now - self.started
            rate = done / seconds if seconds > 0 else 0.0
            share = f"{min(1.0, done / total):.0%}" if total else "-"
            eta = f"{(total - done) / rate:,.0f} s" if rate > 0 and total > done else "-"
            self.console.print(f"{label}: {done:,}/{total:,} ({share}), {rate:,.0f}/s, ETA {eta}", highlight=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
