"""A progress line on stderr for long operator commands: done/total, rate and ETA.

On a terminal it redraws one line; otherwise (a log file, CI) it prints a line every
``every`` seconds, so a log shows how fast things went without a flood.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def render(label: str, done: int, total: int, seconds: float, width: int = 24) -> str:
    """``label [#####-----]  52%  52,000/100,000  31,200/s  ETA 0:00:01``"""
    share = min(1.0, done / total) if total else 1.0
    filled = int(share * width)
    rate = done / seconds if seconds > 0 else 0.0
    eta = _clock((total - done) / rate) if rate > 0 and total > done else "-"
    return (f"{label} [{'#' * filled}{'-' * (width - filled)}] {share:4.0%}  {done:,}/{total:,}  "
            f"{rate:,.0f}/s  ETA {eta}")


class ProgressLine:
    def __init__(self, stream: TextIO | None = None, every: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if every is not None else (0.2 if self.tty else 5.0)
        self._last = 0.0
        self._shown = ""

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        if self.tty:
            pad = max(0, len(self._shown) - len(text))
            self.stream.write("\r" + text + " " * pad)
        else:
            self.stream.write(text + "\n")
        self._shown = text
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
