"""Small process and port helpers shared by the Kafka and PostgreSQL launchers.

Linux-only on purpose (``/proc``): the local servers are a development and test
convenience; production points FIRMTEXT_KAFKA_BOOTSTRAP / FIRMTEXT_DATABASE_URL
at real clusters.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable


class InfraError(RuntimeError):
    """A local server could not be started or stopped; the message is for a person."""


def reap(pid: int) -> None:
    """Collect ``pid`` if it is our exited child, so it stops showing as alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a running process (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (the postgres OS user)
    try:
        # Field 3 of /proc/<pid>/stat is the state; the command name before it may
        # contain spaces, hence the split on the closing parenthesis.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state not in ("Z", "X"):
        return True
    # A dead thread-group leader shows Z while its other threads (a JVM's, say) are
    # still exiting and holding its sockets; it is gone once it is the last task.
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def cmdline(pid: int) -> str:
    """The command line of ``pid`` with arguments joined by spaces ('' if gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def read_pid(path: Path) -> int | None:
    """The pid stored on the first line of ``path``, or None if missing or garbled."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on ``host:port`` (a bind attempt fails).

    SO_REUSEADDR makes sockets left in TIME_WAIT by a killed server not count.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def port_listened(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts connections on ``host:port`` (not just holds it)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(paths: Iterable[Path], lines: int = 20) -> str:
    """The last ``lines`` lines of the newest existing file among ``paths``."""
    existing = [p for p in paths if p.is_file()]
    if not existing:
        return "(no log written yet)"
    newest = max(existing, key=lambda p: p.stat().st_mtime)
    with newest.open("rb") as handle:
        kept = deque(handle, maxlen=lines)
    text = b"".join(kept).decode(errors="replace").rstrip()
    return f"--- last lines of {newest} ---\n{text}" if text else f"({newest} is empty)"


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check`` until it returns True or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def terminate(pid: int, timeout: float, group: bool = False) -> None:
    """SIGTERM ``pid`` (or its process group), then SIGKILL it after ``timeout`` s."""
    send = os.killpg if group else os.kill
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            send(pid, sig)
        except ProcessLookupError:
            reap(pid)
            return
        if wait_until(lambda: not pid_alive(pid), wait):
            return
    raise InfraError(f"process {pid} survived SIGKILL for 10 seconds")
