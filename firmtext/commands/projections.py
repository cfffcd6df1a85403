"""``firmtext projections rebuild NAME|--all`` and ``firmtext projections status``
(firmtext/commands/_projections_status.py)."""
from __future__ import annotations

import argparse
import asyncio
import sys

from firmtext.commands._projections_status import status_command
from firmtext.config import Settings

INTERRUPTED = 3  # exit status of a rebuild stopped by --stop-after-batches
DEFAULT_JOBS = 2


def _chosen(args: argparse.Namespace) -> list:
    from projections.registry import ALL

    if args.all == bool(args.names):
        raise SystemExit("firmtext projections rebuild: name projections, or give --all (not both)")
    unknown = [n for n in args.names if n not in ALL]
    if unknown:
        raise SystemExit(f"firmtext projections rebuild: no projection {', '.join(unknown)} "
                         f"(there are: {', '.join(ALL)})")
    return list(ALL.values()) if args.all else [ALL[n] for n in dict.fromkeys(args.names)]


def _rebuild(args: argparse.Namespace) -> int:
    from firmtext.bootstrap import database_url_of, kafka_bootstrap_of
    from firmtext.progress import RebuildProgress
    from projections.rebuild.run import Interrupted, Rebuild

    settings = Settings.from_env()
    projections = _chosen(args)
    names = ", ".join(p.name for p in projections)
    line = RebuildProgress()

    def show(p) -> None:
        line.update(f"rebuild {names}: {p.phase}", p.applied, p.due, force=p.phase in ("swap", "done"))

    rebuild = Rebuild(database_url_of(settings), kafka_bootstrap_of(settings), args.topic or settings.events_topic,
                      projections, restart=args.restart, swap=not args.no_swap, jobs=args.jobs,
                      batch_size=args.batch_size, on_progress=show, stop_after_batches=args.stop_after_batches,
                      master_key=settings.master_key)
    try:
        report = asyncio.run(rebuild.run())
    except Interrupted as stop:
        line.close()
        print(f"rebuild interrupted: {stop}; run the same command again to resume", file=sys.stderr)
        return INTERRUPTED
    line.close()
    resumed = f" (resumed: {', '.join(report.resumed)})" if report.resumed else ""
    where = "swapped in" if report.swapped else "left in pj_<name>__rebuild (--no-swap)"
    print(f"rebuilt {names}{resumed}: {report.events:,} events in {report.seconds:.1f} s "
          f"({report.events_per_second:,.0f}/s, {report.jobs} process{'es' if report.jobs > 1 else ''}), {where}")
    print("where the time went: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items()), file=sys.stderr)
    if report.set_aside:
        # The same events the live worker sets aside (docs/operations.md): the rest was rebuilt.
        print(f"{len(report.set_aside)} event(s) set aside (in projection_failures; see docs/operations.md):")
        for projection, partition, offset, _, event_id, event_type, error in report.set_aside:
            print(f"  {projection}: {event_type} {event_id} at partition {partition} offset {offset}: {error}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``projections rebuild`` and ``projections status``."""
    parser = subparsers.add_parser("projections", help="rebuild projections from the log; show their lag",
                                   description="Projections are rebuilt from offset 0 into pj_<name>__rebuild "
                                               "while the live ones serve, then swapped in atomically.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rebuild = actions.add_parser("rebuild", help="rebuild projections from offset 0 and swap them in",
                                 description="Resumable: an interrupted rebuild continues where it stopped.")
    rebuild.add_argument("names", nargs="*", metavar="NAME", help="projections to rebuild")
    rebuild.add_argument("--all", action="store_true", help="rebuild every projection")
    rebuild.add_argument("--restart", action="store_true", help="discard an interrupted rebuild; start at 0")
    rebuild.add_argument("--no-swap", action="store_true", help="build pj_<name>__rebuild but do not swap it in")
    rebuild.add_argument("--topic", help="read this topic instead of FIRMTEXT_EVENTS_TOPIC (benchmarks)")
    rebuild.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                         help=f"processes replaying partitions in parallel (default {DEFAULT_JOBS})")
    rebuild.add_argument("--batch-size", type=int, default=50_000, help="events per transaction (default 50000)")
    rebuild.add_argument("--stop-after-batches", type=int, help=argparse.SUPPRESS)  # tests: a clean interruption
    rebuild.set_defaults(func=_rebuild)
    status = actions.add_parser("status", help="per projection and partition: applied offset, end offset, lag",
                                description="Also shows the outbox relay's lag behind the event store, the "
                                            "events set aside, and events no projection knows.")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=status_command)
