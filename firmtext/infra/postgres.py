"""A local PostgreSQL cluster under ``<FIRMTEXT_VAR_DIR>/postgres`` (dev and tests).

Layout: ``data/`` (the cluster), ``run/`` (unix socket), ``logs/``. Uses Debian's
server binaries; as root the server runs as the ``postgres`` OS user, because
PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import os
import subprocess

from firmtext.config import Settings
from firmtext.infra import daemon
from firmtext.infra.daemon import InfraError
from firmtext.infra.postgres_cluster import ClusterPaths, as_server_user, prepare_directories, run
from firmtext.infra.postgres_databases import create_database, drop_database

__all__ = ["create_database", "drop_database", "ensure_postgres", "running_pid", "server_url",
           "stop_postgres"]

START_TIMEOUT = 60
SUPERUSER = "firmtext"


def server_url(settings: Settings, database: str = "postgres") -> str:
    """The psycopg URL of ``database`` on the local cluster (trust auth, TCP)."""
    return f"postgresql://{SUPERUSER}@127.0.0.1:{settings.postgres_port}/{database}"


def _config(settings: Settings, paths: ClusterPaths, fast: bool) -> str:
    socket_path = paths.run / f".s.PGSQL.{settings.postgres_port}"
    # A unix socket path over 107 bytes cannot be bound; everything uses TCP anyway.
    sockets = str(paths.run) if len(str(socket_path)) < 100 else ""
    lines = [
        "listen_addresses = '127.0.0.1'",
        f"port = {settings.postgres_port}",
        f"unix_socket_directories = '{sockets}'",
        "max_connections = 200",
        "shared_buffers = 256MB",
        # Random reads cost about what sequential ones do here (the working set is in memory,
        # the disk an SSD). At the default 4.0 the planner scanned the projections' tables
        # whole for every live batch's `= ANY` preload while they were young (a few thousand
        # rows): 3 ms a query instead of 0.3 (issue 11; docs/configuration.md).
        "random_page_cost = 1.1",
        "logging_collector = on",
        f"log_directory = '{paths.logs}'",
        "log_filename = 'postgresql-%a.log'",
        "log_truncate_on_rotation = on",
        "log_rotation_age = 1d",
        "log_line_prefix = '%m [%p] %q%u@%d '",
    ]
    # Tests only: a crash of the machine may corrupt the cluster. synchronous_commit stays on:
    # off, a commit is acknowledged before its WAL is written, so even a crash of PostgreSQL
    # alone (the fault drills' `pg_ctl stop -m immediate`) loses texts already answered 200,
    # and the relay may have published events that then never existed.
    if fast:
        lines += ["fsync = off", "full_page_writes = off"]
    return "\n".join(lines) + "\n"


def _initdb(paths: ClusterPaths, fast: bool) -> None:
    if (paths.data / "PG_VERSION").exists():
        return
    command = [str(paths.bin / "initdb"), "-D", str(paths.data), "--auth=trust",
               f"-U{SUPERUSER}", "-E", "UTF8", "--no-locale", "--no-instructions"]
    run(as_server_user(command + (["--no-sync"] if fast else [])), "initdb", paths)
    with open(paths.data / "postgresql.conf", "a") as conf:
        conf.write("\n# firmtext: rewritten on every start from FIRMTEXT_* settings\n"
                   "include_if_exists = 'firmtext.conf'\n")


def running_pid(paths: ClusterPaths) -> int | None:
    """The postmaster pid of this cluster if it is alive (a reused pid does not count)."""
    pid = daemon.read_pid(paths.data / "postmaster.pid")
    if pid and daemon.pid_alive(pid) and str(paths.data) in daemon.cmdline(pid):
        return pid
    return None


def _running_port(paths: ClusterPaths) -> int | None:
    try:  # line 4 of postmaster.pid is the port
        return int((paths.data / "postmaster.pid").read_text().splitlines()[3])
    except (OSError, ValueError, IndexError):
        return None


def _start(settings: Settings, paths: ClusterPaths, fast: bool) -> None:
    # After kill -9 the lock files name a dead (or reused) pid; PostgreSQL would
    # refuse to start if that pid now belongs to another process, so drop them.
    (paths.data / "postmaster.pid").unlink(missing_ok=True)
    for lock in paths.run.glob(".s.PGSQL.*.lock"):
        lock.unlink(missing_ok=True)
    (paths.data / "firmtext.conf").write_text(_config(settings, paths, fast))
    command = [str(paths.bin / "pg_ctl"), "start", "-D", str(paths.data), "-w",
               "-t", str(START_TIMEOUT), "-l", str(paths.logs / "startup.log")]
    # Backends of a postmaster killed with -9 notice its death and exit within
    # moments; until then the old shared memory is "still in use", so retry.
    for attempt in range(20):
        done = subprocess.run(as_server_user(command), capture_output=True, text=True, cwd=paths.root)
        if done.returncode == 0:
            return
        if "shared memory block is still in use" not in paths.log_tail(50) or attempt == 19:
            raise InfraError(f"PostgreSQL did not start ({done.stderr.strip() or done.stdout.strip()}).\n"
                             f"{paths.log_tail()}")
        daemon.wait_until(lambda: False, 0.5)


def ensure_postgres(settings: Settings, database: str = "firmtext", fast: bool | None = None) -> str:
    """A psycopg URL for ``database``: FIRMTEXT_DATABASE_URL if set, else the local cluster,
    initialised, started (or reused) and with ``database`` created if missing.

    ``fast`` (default: FIRMTEXT_POSTGRES_FAST=1) turns off fsync and friends; tests only.
    """
    if settings.database_url:
        return settings.database_url
    if fast is None:
        fast = os.environ.get("FIRMTEXT_POSTGRES_FAST", "") in ("1", "true", "yes")
    paths = ClusterPaths.of(settings)
    with paths.locked():
        if running_pid(paths) is None:
            if daemon.port_in_use(settings.postgres_port):
                raise InfraError(
                    f"Port {settings.postgres_port} on 127.0.0.1 is already taken by a process that "
                    "is not firmtext's PostgreSQL; free it or set FIRMTEXT_POSTGRES_PORT to another "
                    f"port.\n{paths.log_tail()}")
            prepare_directories(paths)
            _initdb(paths, fast)
            _start(settings, paths, fast)
        elif _running_port(paths) != settings.postgres_port:
            raise InfraError(f"The PostgreSQL under {paths.root} already runs on port "
                             f"{_running_port(paths)}, not FIRMTEXT_POSTGRES_PORT="
                             f"{settings.postgres_port}; stop it with `firmtext infra stop`.")
    url = server_url(settings, database)
    create_database(server_url(settings), database, exist_ok=True)
    return url


def stop_postgres(settings: Settings, mode: str = "fast") -> bool:
    """Stop the local cluster with ``pg_ctl stop -m <mode>`` (``immediate``: as a crash,
    for the fault drills); True if one was running."""
    if settings.database_url:
        return False
    paths = ClusterPaths.of(settings)
    with paths.locked():
        if running_pid(paths) is None:
            return False
        run(as_server_user([str(paths.bin / "pg_ctl"), "stop", "-D", str(paths.data),
                            "-m", mode, "-w", "-t", "60"]), "pg_ctl stop", paths)
    return True
