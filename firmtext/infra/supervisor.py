"""Supervision that degrades and never collapses (issue 8): every long-running component
is restarted whenever it exits, after a capped exponential backoff (1 s, 2 s, 4 s … 30 s),
for as long as ``firmtext up`` runs. The others keep running meanwhile. A component that
failed DEGRADED_AFTER times in a row is "degraded" until it has stayed up STABLE_AFTER
seconds again; its last exit status and log lines say why.

``poll()`` never blocks: one crash-looping component cannot delay the others' restarts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from firmtext.infra.stack import Stack

BACKOFF_FIRST = 1.0
BACKOFF_CAP = 30.0
DEGRADED_AFTER = 3
STABLE_AFTER = 10.0
READY_TIMEOUT = 90.0


def backoff(failures: int, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait before restart number ``failures`` (1-based) of a failing streak."""
    return min(cap, first * 2 ** max(0, failures - 1))


@dataclass
class Health:
    """What the supervisor knows of one component (a row of ``infra status --json``)."""

    name: str
    state: str = "starting"  # starting | running | restarting | degraded | stopped
    restarts: int = 0
    failures: int = 0  # in a row, forgiven after STABLE_AFTER seconds up
    last_exit: int | None = None
    reason: str = ""  # the last log lines before the latest exit
    started_at: float = 0.0
    next_start: float | None = None
    changed_at: float = field(default_factory=time.time)

    def become(self, state: str) -> None:
        if state != self.state:
            self.state, self.changed_at = state, time.time()


class Supervisor:
    """Keeps the long-running components of ``stack`` alive; see the module docstring."""

    def __init__(self, stack: Stack, names: Iterable[str], report: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic, stable_after: float = STABLE_AFTER,
                 backoff_cap: float = BACKOFF_CAP):
        self.stack = stack
        self.health = {name: Health(name) for name in names}
        self.report = report
        self.clock = clock
        self.stable_after = stable_after
        self.backoff_cap = backoff_cap

    def start(self) -> None:
        """Spawn every component without waiting: those that fail are restarted by poll()."""
        for name, health in self.health.items():
            self.stack.spawn(name)
            health.started_at = self.clock()

    def all_running(self) -> bool:
        """True once every component is ready."""
        return all(h.state == "running" for h in self.health.values())

    def poll(self) -> None:
        """One round: restart what is due, note what exited or became ready."""
        now = self.clock()
        for name, health in self.health.items():
            if health.next_start is not None:
                if now >= health.next_start:
                    health.next_start, health.started_at = None, now
                    self.stack.spawn(name)
                    health.become("degraded" if health.failures >= DEGRADED_AFTER else "starting")
            elif not self.stack.is_running(name):
                self._exited(health, now)
            elif health.state in ("starting", "degraded", "restarting"):
                self._check_ready(health, now)
            elif health.failures and now - health.started_at >= self.stable_after:
                health.failures = 0  # up long enough: the next failure starts from 1 s again

    def _check_ready(self, health: Health, now: float) -> None:
        up_for = now - health.started_at
        if not self.stack.ready(health.name, up_for):
            if up_for > READY_TIMEOUT:
                health.reason = self.stack.log_tail(health.name, 10)
                self.report(f"{health.name} was not ready within {READY_TIMEOUT:.0f} s; restarting it")
                self.stack.children[health.name].stop(self.stack.stop_timeout)
            return
        if health.failures >= DEGRADED_AFTER and up_for < self.stable_after:
            return  # degraded until it proves it stays up
        if health.failures:
            self.report(f"{health.name} is running again (after {health.restarts} restarts)")
        if health.failures >= DEGRADED_AFTER:
            health.failures = 0
        health.become("running")

    def _exited(self, health: Health, now: float) -> None:
        health.last_exit = self.stack.children[health.name].returncode
        health.failures += 1
        health.restarts += 1
        health.reason = self.stack.log_tail(health.name, 10)
        delay = backoff(health.failures, cap=self.backoff_cap)
        health.next_start = now + delay
        degraded = health.failures >= DEGRADED_AFTER
        health.become("degraded" if degraded else "restarting")
        streak = f", {health.failures} times in a row: DEGRADED" if degraded else ""
        self.report(f"{health.name} exited with status {health.last_exit}{streak}; restarting it in "
                    f"{delay:.0f} s (the others keep running).\n{health.reason}")

    def stopped(self) -> None:
        """Mark every component stopped (after the stack was stopped)."""
        for health in self.health.values():
            health.next_start = None
            health.become("stopped")

    def rows(self) -> list[dict]:
        """One dict per component: name, pid, state, restarts, last_exit, reason, since."""
        return [{"name": h.name, "pid": self.stack.pid(h.name) if self.stack.is_running(h.name) else None,
                 "state": h.state, "restarts": h.restarts, "last_exit": h.last_exit,
                 "reason": h.reason if h.state != "running" or h.restarts else "",
                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h.changed_at))}
                for h in self.health.values()]
