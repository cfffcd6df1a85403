"""The Stack: firmtext's components as supervised child processes.

``migrate`` runs to completion first; the long-running components are then spawned
together and each is waited for (HTTP /healthz, or still alive after a second).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from firmtext.config import Settings
from firmtext.infra.daemon import InfraError
from firmtext.infra.processes import ChildProcess
from firmtext.infra.readiness import Ready, default_readiness

__all__ = ["COMPONENTS", "ComponentFailed", "Ready", "Stack", "components_for", "default_readiness",
           "firmtext_command"]

COMPONENTS = ("migrate", "simulator", "api", "relay", "worker")
# Components that may run as several processes: ``worker-1`` … ``worker-N``.
SCALABLE = frozenset({"worker"})
ONE_SHOT = frozenset({"migrate"})
ONE_SHOT_TIMEOUT = 300.0


class ComponentFailed(InfraError):
    """A component exited or never became ready; the message ends with its log tail."""


def kind_of(component: str) -> str:
    """``worker`` for ``worker-2``: what a numbered instance runs."""
    base, _, number = component.rpartition("-")
    return base if base in SCALABLE and number.isdigit() else component


def components_for(settings: Settings) -> tuple[str, ...]:
    """COMPONENTS with FIRMTEXT_WORKERS workers: ``worker`` alone, or ``worker-1`` …
    ``worker-N`` (one consumer group; each its own process and log)."""
    if settings.workers == 1:
        return COMPONENTS
    expanded: list[str] = []
    for name in COMPONENTS:
        expanded += [f"{name}-{n}" for n in range(1, settings.workers + 1)] if name in SCALABLE else [name]
    return tuple(expanded)


def firmtext_command(component: str) -> list[str]:
    """``python -m firmtext <component>`` with this interpreter (``worker-2`` runs ``worker``)."""
    return [sys.executable, "-m", "firmtext", kind_of(component)]


class Stack:
    """Starts, watches and stops components; see the module docstring."""

    def __init__(self, settings: Settings, *, command: Callable[[str], Sequence[str]] = firmtext_command,
                 readiness: Mapping[str, Ready] | None = None, log_dir: Path | None = None,
                 extra_env: Mapping[str, str] | None = None, stop_timeout: float = 10.0,
                 one_shot: Iterable[str] = ONE_SHOT):
        self.settings = settings
        self.one_shot = frozenset(one_shot)
        self.command = command
        self.readiness = dict(default_readiness(settings) if readiness is None else readiness)
        self.log_dir = Path(log_dir) if log_dir else Path(settings.var_dir) / "logs"
        # Settings win over the inherited environment; unbuffered so logs are live.
        self.env = {**os.environ, **settings.as_env(), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.stop_timeout = stop_timeout
        self.children: dict[str, ChildProcess] = {}

    def _child(self, name: str) -> ChildProcess:
        if name not in self.children:
            self.children[name] = ChildProcess(name, self.command(name), self.env,
                                               self.log_dir / f"{name}.log")
        return self.children[name]

    def _failed(self, name: str, what: str) -> ComponentFailed:
        return ComponentFailed(f"{name} {what}; see {self.log_dir / (name + '.log')}.\n"
                               f"{self.children[name].log_tail()}")

    def _run_once(self, name: str) -> None:
        child = self._child(name)
        child.start()
        try:
            status = child.wait(ONE_SHOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.stop(self.stop_timeout)
            raise self._failed(name, f"did not finish within {ONE_SHOT_TIMEOUT:.0f} s") from None
        if status != 0:
            raise self._failed(name, f"exited with status {status}")

    def spawn(self, name: str) -> None:
        """Start component ``name`` and return at once (the supervisor checks readiness)."""
        self._child(name).start()

    def ready(self, name: str, running_for: float) -> bool:
        """True if ``name``, alive for ``running_for`` seconds, counts as ready (one probe)."""
        ready = self.readiness.get(kind_of(name), Ready())
        return self.is_running(name) and ready.check() and bool(ready.url or running_for >= ready.alive_for)

    def _wait_ready(self, names: Sequence[str]) -> None:
        started = time.monotonic()
        pending = list(names)
        while pending:
            for name in list(pending):
                ready, child = self.readiness.get(kind_of(name), Ready()), self.children[name]
                if not child.is_running():
                    raise self._failed(name, f"exited with status {child.returncode} while starting")
                elapsed = time.monotonic() - started
                if ready.check() and (ready.url or elapsed >= ready.alive_for):
                    pending.remove(name)
                elif elapsed > ready.timeout:
                    raise self._failed(name, f"was not ready within {ready.timeout:.0f} s")
            if pending:
                time.sleep(0.1)

    def start(self, components: Iterable[str] = COMPONENTS) -> None:
        """Start ``components`` in order (one-shots run to completion) and wait until all
        are ready. All or nothing: on failure everything started is stopped again."""
        batch: list[str] = []
        try:
            for name in components:
                if name in self.one_shot:
                    self._wait_ready(batch)
                    batch = []
                    self._run_once(name)
                else:
                    self._child(name).start()
                    batch.append(name)
            self._wait_ready(batch)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every component at once, wait, SIGKILL stragglers (whole groups)."""
        running = [child for child in self.children.values() if child.is_running()]
        for child in running:
            child.send(signal.SIGTERM)
        for child in reversed(list(self.children.values())):
            child.stop(self.stop_timeout)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to component ``name``'s process group; after SIGKILL, wait for it."""
        child = self.children[name]
        child.send(sig)
        if sig == signal.SIGKILL:
            child.wait(10)

    def restart(self, name: str) -> None:
        """Stop component ``name`` if running, start it again and wait until it is ready."""
        child = self._child(name)
        child.stop(self.stop_timeout)
        if name in self.one_shot:
            self._run_once(name)
            return
        child.start()
        self._wait_ready([name])

    def is_running(self, name: str) -> bool:
        """True while component ``name`` is alive."""
        return name in self.children and self.children[name].is_running()

    def pid(self, name: str) -> int | None:
        """Component ``name``'s pid (None if never started)."""
        return self.children[name].pid if name in self.children else None

    def exited(self) -> dict[str, int]:
        """Long-running components that have exited, with their status."""
        return {name: child.returncode for name, child in self.children.items()
                if name not in self.one_shot and child.returncode is not None}

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last ``lines`` lines of component ``name``'s log."""
        return self._child(name).log_tail(lines)
