"""``firmtext projections rebuild NAME|--all`` and ``firmtext projections status``."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

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
    from projections.rebuild import Interrupted, Rebuild

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


def _status(args: argparse.Namespace) -> int:
    import psycopg

    from firmtext.bootstrap import Container
    from projections.lag import projection_lag
    from projections.registry import ALL
    from projections.topic_range import end_offsets
    from streams.relay_health import relay_report

    settings = Settings.from_env()
    container = Container(settings, pool_size=2)
    relay, failures, emails = None, [], []
    try:
        ends = asyncio.run(end_offsets(container.kafka_bootstrap, settings.events_topic))
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            rows = projection_lag(conn, list(ALL.values()), ends)
            # Only where `firmtext migrate` ran: a status must not create the event store.
            if conn.execute("SELECT to_regclass('relay_status')").fetchone()[0]:
                report = relay_report(conn, container.texting.recorder.max_notification_id() or 0)
                relay = report.as_dict()
                relay["set_aside_events"] = [{"notification_id": r[0], "event_type": r[1], "size_bytes": r[2],
                                              "reason": r[3]} for r in conn.execute(
                    "SELECT notification_id, event_type, size_bytes, reason FROM relay_set_aside "
                    "ORDER BY notification_id").fetchall()]
            if conn.execute("SELECT to_regclass('projection_failures')").fetchone()[0]:
                failures = [{"projection": f[0], "partition": f[1], "offset": f[2], "event_type": f[3],
                             "error": f[4], "failed_at": f[5].isoformat()} for f in conn.execute(
                    "SELECT projection, partition, kafka_offset, event_type, error, failed_at "
                    "FROM projection_failures ORDER BY failed_at").fetchall()]
            emails = _emails_set_aside(conn)
    finally:
        container.close()
    if args.json:
        print(json.dumps({"topic": settings.events_topic, "relay": relay,
                          "projections": [r.as_dict() for r in rows], "failures": failures,
                          "emails_set_aside": emails}, indent=2))
        return 0
    print("relay: no relay_status table (run `firmtext migrate`)" if relay is None else
          f"relay: {relay['state']}{' (' + relay['detail'] + ')' if relay['detail'] else ''}; published up to "
          f"notification {relay['relayed_notification_id']:,} of {relay['newest_notification_id']:,} "
          f"(lag {relay['lag']:,})")
    for r in (relay or {}).get("set_aside_events", []):
        print(f"  set aside by the relay: notification {r['notification_id']:,} ({r['event_type']}, "
              f"{r['size_bytes']:,} bytes): {r['reason']}")
    print(f"topic {settings.events_topic}")
    print(f"{'schema':<28} {'partition':>9} {'applied':>10} {'end':>10} {'lag':>8}")
    for r in rows:
        applied = "-" if r.applied_offset is None else f"{r.applied_offset:,}"
        print(f"{r.schema:<28} {r.partition:>9} {applied:>10} {r.end_offset:>10,} {r.lag:>8,}")
    if failures:
        # Set aside by the worker so the rest could go on; fix the cause, then rebuild.
        print(f"\n{len(failures)} event(s) a projection could not apply (see docs/operations.md):")
        for f in failures:
            print(f"  {f['projection']}: {f['event_type']} at partition {f['partition']} offset {f['offset']}: "
                  f"{f['error']}")
    if emails:
        print(f"\n{len(emails)} notification email(s) set aside by the mailer (see docs/operations.md):")
        for e in emails:
            print(f"  notification {e['notification_id']} at {e['set_aside_at']}: {e['reason']}")
    return 0


def _emails_set_aside(conn) -> list[dict]:
    """Notification emails the mailer set aside (their own fault, never retried), newest first."""
    if not conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'email_deliveries' "
                        "AND column_name = 'set_aside_reason'").fetchone():
        return []
    return [{"notification_id": n, "reason": reason, "set_aside_at": at.isoformat()} for n, reason, at in conn.execute(
        "SELECT notification_id, set_aside_reason, set_aside_at FROM email_deliveries "
        "WHERE set_aside_reason IS NOT NULL ORDER BY set_aside_at DESC LIMIT 100").fetchall()]


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
                                description="Also shows the outbox relay's lag behind the event store.")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
