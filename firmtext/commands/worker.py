"""``firmtext worker``: the Faust worker (projections and the SMS sender)."""
from __future__ import annotations

import argparse

from firmtext.config import Settings


def run(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from streams.worker import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    level = {"warning": "warn", "critical": "crit"}.get(settings.log_level, settings.log_level)
    Worker(app, loglevel=level, quiet=True).execute_from_commandline()
    return 0


def register(sub) -> None:
    p = sub.add_parser("worker", help="run the Faust worker: projections and the SMS sender",
                       description="Consumes the events topic; scale out by running more (same "
                                   "FIRMTEXT_APP_ID = same consumer group).")
    p.set_defaults(func=run)
