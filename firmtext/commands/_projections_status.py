"""``firmtext projections status``: per projection and partition how far it applied, the
relay's lag, and what was set aside or skipped (by the relay, the worker, the mailer),
as rich tables (or ``--json``)."""
from __future__ import annotations

import argparse
import asyncio
import json

from rich.console import Console
from rich.table import Table

from firmtext.config import Settings


def _collect(settings: Settings) -> dict:
    import psycopg

    from firmtext.bootstrap import Container
    from projections.lag import projection_lag
    from projections.registry import ALL
    from projections.rebuild.topic_range import end_offsets
    from projections.unknown import unknown_events
    from streams.relay_health import relay_report

    container = Container(settings, pool_size=2)
    relay, failures, emails, unknown = None, [], [], []
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
            unknown = unknown_events(conn)
            emails = _emails_set_aside(conn)
    finally:
        container.close()
    return {"topic": settings.events_topic, "relay": relay, "projections": [r.as_dict() for r in rows],
            "failures": failures, "unknown_events": unknown, "emails_set_aside": emails}


def _emails_set_aside(conn) -> list[dict]:
    """Notification emails the mailer set aside (their own fault, never retried), newest first."""
    if not conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'email_deliveries' "
                        "AND column_name = 'set_aside_reason'").fetchone():
        return []
    return [{"notification_id": n, "reason": reason, "set_aside_at": at.isoformat()} for n, reason, at in conn.execute(
        "SELECT notification_id, set_aside_reason, set_aside_at FROM email_deliveries "
        "WHERE set_aside_reason IS NOT NULL ORDER BY set_aside_at DESC LIMIT 100").fetchall()]


def _table(title: str, columns: list[str], rows: list[list], right: set[str] = frozenset(), style="") -> Table:
    table = Table(title=title, title_justify="left", title_style=style or "bold")
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    return table


def render(status: dict, console: Console) -> None:
    """Print ``status`` (what :func:`_collect` returns) as tables."""
    relay = status["relay"]
    console.print("relay: no relay_status table (run `firmtext migrate`)" if relay is None else
                  f"relay: {relay['state']}{' (' + relay['detail'] + ')' if relay['detail'] else ''}; published up "
                  f"to notification {relay['relayed_notification_id']:,} of {relay['newest_notification_id']:,} "
                  f"(lag {relay['lag']:,})", highlight=False)
    aside = (relay or {}).get("set_aside_events", [])
    if aside:
        console.print(_table("set aside by the relay", ["notification", "type", "bytes", "reason"],
                             [[f"{r['notification_id']:,}", r["event_type"], f"{r['size_bytes']:,}", r["reason"]]
                              for r in aside], {"notification", "bytes"}, "bold red"))
    console.print(_table(f"topic {status['topic']}", ["schema", "partition", "applied", "end", "lag"],
                         [[r["schema"], r["partition"], "-" if r["applied_offset"] is None else f"{r['applied_offset']:,}",
                           f"{r['end_offset']:,}", f"{r['lag']:,}"] for r in status["projections"]],
                         {"partition", "applied", "end", "lag"}))
    if status["failures"]:
        # Set aside by the worker so the rest could go on; fix the cause, then rebuild.
        console.print(_table(f"{len(status['failures'])} event(s) a projection could not apply "
                             "(see docs/operations.md)", ["projection", "type", "partition", "offset", "error"],
                             [[f["projection"], f["event_type"], f["partition"], f["offset"], f["error"]]
                              for f in status["failures"]], {"partition", "offset"}, "bold red"))
    if status["unknown_events"]:
        console.print(_table("event types or versions no projection knows (skipped; see docs/operations.md)",
                             ["type", "version", "events", "first at", "last at", "last seen"],
                             [[u["event_type"], u["schema_version"], f"{u['events']:,}",
                               f"{u['first']['partition']}/{u['first']['offset']}",
                               f"{u['last']['partition']}/{u['last']['offset']}", u["last_seen_at"]]
                              for u in status["unknown_events"]], {"events"}, "bold yellow"))
    if status["emails_set_aside"]:
        console.print(_table(f"{len(status['emails_set_aside'])} notification email(s) set aside by the mailer "
                             "(see docs/operations.md)", ["notification", "set aside at", "reason"],
                             [[e["notification_id"], e["set_aside_at"], e["reason"]]
                              for e in status["emails_set_aside"]], {"notification"}, "bold red"))


def status_command(args: argparse.Namespace) -> int:
    status = _collect(Settings.from_env())
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    render(status, Console(soft_wrap=False))
    return 0
