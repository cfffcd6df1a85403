"""``firmtext worker``: the worker (projections, the SMS sender, the mailer).

Every agent resumes from positions stored in PostgreSQL, so a restart is always safe:
by default this command supervises the worker process and restarts it after a crash
(a part that cannot go on ends the process: streams/worker.py), with backoff;
SIGTERM/SIGINT stop it for good.
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time

from firmtext import logs
from firmtext.config import Settings
from firmtext.infra.processes import die_with_parent_hook

log = logging.getLogger("firmtext.worker")


def run_worker() -> int:
    """Run the worker in this process until SIGTERM/SIGINT (0), or until a part of it fails (1)."""
    import uvloop

    from firmtext.bootstrap import Container
    from firmtext.gc_tuning import settle
    from streams.worker import create_worker, serve

    settings = Settings.from_env()
    logs.configure(settings.log_level)
    worker = create_worker(settings, Container(settings, pool_size=4))
    settle()  # built: what it holds now lives as long as the process
    try:
        uvloop.run(serve(worker))
    except Exception:
        log.exception("the worker stopped on an error")
        return 1
    return 0


def supervise() -> int:
    """Run the worker as a child; restart it whenever it dies without being asked to."""
    logs.configure(Settings.from_env().log_level)
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 1.0
    while not stopping:
        started = time.monotonic()
        # If the supervisor itself is killed, the kernel takes the worker process down too.
        child = subprocess.Popen([sys.executable, "-m", "firmtext", "worker", "--no-supervise"],
                                 preexec_fn=die_with_parent_hook())
        code = child.wait()
        if stopping:
            return 0
        backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
        log.error("the worker exited with status %s; restarting in %.0f s", code, backoff)
        time.sleep(backoff)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_worker() if args.no_supervise else supervise()


def register(sub) -> None:
    p = sub.add_parser("worker", help="run the worker: projections, the SMS sender and the mailer",
                       description="Consumes the events topic; scale out by running more (same "
                                   "FIRMTEXT_APP_ID = same consumer group). Restarts the worker after a crash.")
    p.add_argument("--no-supervise", action="store_true",
                   help="run the worker in this process and exit when it stops (for an external supervisor)")
    p.set_defaults(func=run)
