"""``firmtext worker``: the Faust worker (projections, the SMS sender, the mailer).

Faust can crash on its own during consumer-group rebalances (a known class of upstream
bugs). Every agent resumes from positions stored in PostgreSQL, so a restart is always
safe: by default this command supervises the Faust process and restarts it after a
crash, with backoff; SIGTERM/SIGINT stop it for good.
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


def run_faust() -> int:
    from firmtext.bootstrap import Container
    from firmtext.gc_tuning import settle
    from streams.worker import create_app

    settings = Settings.from_env()
    app = create_app(settings, Container(settings, pool_size=4))
    settle()  # built: what it holds now lives as long as the process
    faust_worker(app, settings.log_level).execute_from_commandline()
    return 0


def faust_worker(app, log_level: str):
    """Faust's Worker for ``app``, logging at ``log_level``, without its terminal spinner.
    The spinner, kept at levels from warning up, sets the root logger to DEBUG so that it
    can spin on every record: every library's debug call (aiokafka's on each fetch,
    httpcore's on each request) then built a record, only to move the spinner."""
    from faust.worker import Worker

    level = {"warning": "warn", "critical": "crit"}.get(log_level, log_level)
    worker = Worker(app, loglevel=level, quiet=True)
    worker.spinner = None
    return worker


def supervise() -> int:
    """Run the Faust worker as a child; restart it whenever it dies without being asked to."""
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
        # If the supervisor itself is killed, the kernel takes the Faust process down too.
        child = subprocess.Popen([sys.executable, "-m", "firmtext", "worker", "--no-supervise"],
                                 preexec_fn=die_with_parent_hook())
        code = child.wait()
        if stopping:
            return 0
        backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
        log.error("the Faust worker exited with status %s; restarting in %.0f s", code, backoff)
        time.sleep(backoff)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_faust() if args.no_supervise else supervise()


def register(sub) -> None:
    p = sub.add_parser("worker", help="run the Faust worker: projections, the SMS sender and the mailer",
                       description="Consumes the events topic; scale out by running more (same "
                                   "FIRMTEXT_APP_ID = same consumer group). Restarts Faust after a crash.")
    p.add_argument("--no-supervise", action="store_true",
                   help="run Faust in this process and exit when it stops (for an external supervisor)")
    p.set_defaults(func=run)
