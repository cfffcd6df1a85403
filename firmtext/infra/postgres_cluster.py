"""Files, binaries and OS user of the local PostgreSQL cluster."""
from __future__ import annotations

import fcntl
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from firmtext.config import Settings
from firmtext.infra import daemon
from firmtext.infra.daemon import InfraError

SERVER_USER = "postgres"


def _major(path: Path) -> float:
    match = re.search(r"/postgresql/([\d.]+)/", str(path))
    return float(match.group(1)) if match else 0.0


def find_bin_dir(data: Path) -> Path:
    """Debian's server binaries: the version the cluster was made with, else the newest."""
    found = sorted((p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")), key=_major)
    if not found:
        raise InfraError("PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin): "
                         "run scripts/bootstrap.sh or apt-get install postgresql.")
    version_file = data / "PG_VERSION"
    if version_file.exists():
        wanted = version_file.read_text().strip()
        for candidate in found:
            if _major(candidate) == float(wanted):
                return candidate
        raise InfraError(f"The cluster in {data} was made by PostgreSQL {wanted}, which is not "
                         "installed; install it or remove that directory (its data is lost).")
    return found[-1]


@dataclass(frozen=True)
class ClusterPaths:
    """Directories of the local cluster for one var dir."""

    root: Path

    data = property(lambda self: self.root / "data")
    run = property(lambda self: self.root / "run")
    logs = property(lambda self: self.root / "logs")
    bin = property(lambda self: find_bin_dir(self.data))

    @classmethod
    def of(cls, settings: Settings) -> "ClusterPaths":
        """The paths for ``settings.var_dir``."""
        return cls(Path(settings.var_dir).resolve() / "postgres")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock so concurrent callers never init or start it twice."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def log_tail(self, lines: int = 20) -> str:
        """The end of the cluster's newest log file."""
        return daemon.tail(self.logs.glob("*.log"), lines)


def _as_root() -> bool:
    return os.geteuid() == 0


def as_server_user(command: list[str]) -> list[str]:
    """``command`` run as the postgres OS user when we are root, as ourselves otherwise."""
    if not _as_root():
        return command
    return [shutil.which("runuser") or "/usr/sbin/runuser", "-u", SERVER_USER, "--", *command]


def _open_ancestors(path: Path) -> None:
    # The postgres user must traverse every parent of var/ (a checkout under a 0700
    # directory such as one from mktemp -d would stop it); add only the x bit.
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            print(f"firmtext: allowing other users to traverse {parent} (chmod o+x) so "
                  "PostgreSQL can reach its data directory", file=sys.stderr)
            parent.chmod(mode | stat.S_IXOTH)


def prepare_directories(paths: ClusterPaths) -> None:
    """Create root/run/logs and hand them to the postgres OS user when we are root."""
    for directory in (paths.root, paths.run, paths.logs):
        directory.mkdir(parents=True, exist_ok=True)
    if not _as_root():
        return
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise InfraError("There is no 'postgres' OS user to run PostgreSQL as (we are root): "
                         "apt-get install postgresql creates it.") from None
    _open_ancestors(paths.root)
    for directory in (paths.root, paths.run, paths.logs, paths.data):
        if directory.exists() and directory.stat().st_uid != user.pw_uid:
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(directory)], check=True)


def run(command: list[str], what: str, paths: ClusterPaths) -> None:
    """Run a PostgreSQL tool; failure raises InfraError with its output and the log tail."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=paths.root)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise InfraError(f"{what} failed (exit {done.returncode}): {output}\n{paths.log_tail()}")
