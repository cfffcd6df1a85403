"""One supervised child process: its own process group, its own log file."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from firmtext.infra import daemon

_PR_SET_PDEATHSIG = 1


def die_with_parent_hook():
    """A preexec hook asking Linux to SIGTERM the child when its parent dies.

    The death signal fires when the *thread* that forked exits, so it is only used
    from the main thread; elsewhere stop() is the only guard against orphans.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, on purpose
    except (OSError, AttributeError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """A command run in a new session (so it and its children form one process group)
    with stdout and stderr appended to ``log_path``."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], log_path: Path):
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen | None = None
        self._signalled = False  # a signal of ours reached the running leader

    def start(self) -> None:
        """Spawn the command; a restart appends to the same log under a new header."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- {stamp} starting {self.name}: {' '.join(self.command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent_hook())
            self._signalled = False

    @property
    def pid(self) -> int | None:
        """The process id (also the process group id), None before start."""
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """The exit status once it has exited (negative: killed by that signal)."""
        return self._process.poll() if self._process else None

    def is_running(self) -> bool:
        """True while the process has not exited."""
        return self._process is not None and self._process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit and return the status (raises subprocess.TimeoutExpired)."""
        assert self._process is not None, f"{self.name} was never started"
        return self._process.wait(timeout)

    def send(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (children of the child included)."""
        if not self.is_running():
            return  # an exited leader's group id may have been reused
        try:
            os.killpg(self._process.pid, sig)
            self._signalled = True
        except ProcessLookupError:
            pass  # the group is already empty

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, wait up to ``timeout`` s, then SIGKILL what is left.

        A leader that already died of a signal we sent (Stack.stop signals every
        component first) still gets its group cleared: grandchildren that ignored the
        SIGTERM outlive it, and while they live the kernel keeps the group id ours.
        """
        if not self.is_running() and not self._signalled:
            return  # exited on its own, long ago maybe: its group id may be someone else's
        self.send(signal.SIGTERM)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self._process.wait(10)
        # Grandchildren that ignored SIGTERM may outlive the leader: clear the group
        # (right after the leader was reaped, so the group id is still ours).
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._signalled = False

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of this process's log."""
        return daemon.tail([self.log_path], lines)
