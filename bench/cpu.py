"""Where the CPU goes during a benchmark: seconds of CPU per process (Linux /proc),
so a level can say "the API used 0.9 of a core, PostgreSQL 0.6"."""
from __future__ import annotations

import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int, reaped: bool = False) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of ``pid`` (plus its exited children's with ``reaped``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return int(fields[1]), ticks / _TICK


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """CPU seconds used so far by ``pid``, and with ``with_children`` by its children, live
    or exited (PostgreSQL: the postmaster and its backends)."""
    own = _stat(pid, reaped=with_children)
    total = own[1] if own else 0.0
    if with_children:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _stat(int(entry.name))
                if stat and stat[0] == pid:
                    total += stat[1]
    return total


class CpuMeter:
    """``meter = CpuMeter({"api": pid, ...}, families={"postgres"})``; ``meter.start()``;
    … ``meter.cores()`` -> cores used by each process since start."""

    def __init__(self, pids: dict[str, int | None], families: frozenset[str] = frozenset()) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.families = families
        self._began: tuple[float, dict[str, float]] = (0.0, {})

    def _now(self) -> dict[str, float]:
        return {name: cpu_seconds(pid, name in self.families) for name, pid in self.pids.items()}

    def start(self) -> None:
        self._began = (time.perf_counter(), self._now())

    def cores(self) -> dict[str, float]:
        wall = time.perf_counter() - self._began[0]
        now = self._now()
        return {name: round((now[name] - self._began[1].get(name, 0.0)) / wall, 2) for name in now} if wall else {}
