"""``firmtext audit verify`` and ``firmtext audit dump``: the log's tamper evidence, checked."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from firmtext.bootstrap import Container
from firmtext.config import Settings
from streams.audit import ChainVerifier
from streams.audit_store import compare_with_store, relay_position, stored_envelopes
from streams.log_dump import dump_header, open_log, write_dump

VERIFY = """\
Re-checks the events log: every envelope's hash is recomputed (sha256 of its canonical
JSON without "hash"); per stream, versions must run 1, 2, 3 ... with each prev_hash equal
to the previous version's hash; per firm, notification ids must increase. The relay's
byte-identical republished copies are counted and skipped. Then (unless --no-store) the
event store in PostgreSQL is read and every stored event's envelope rebuilt: each must be
in the log with the same stream, version, type and hash; events stored beyond the relay's
position and not yet in the log are lag, not a break.

Reads Kafka (FIRMTEXT_KAFKA_BOOTSTRAP, FIRMTEXT_EVENTS_TOPIC) from offset 0 up to the end
offsets found at start, or a dump file (--log-file); and FIRMTEXT_DATABASE_URL. Crypto-
shredding never breaks a chain: the hashes cover ciphertext, which stays in the log.

Prints the FIRST break (partition, offset, stream, version, what is wrong), or a summary.
Exit status: 0 clean; 1 a break was found; 2 the check could not be completed (Kafka,
PostgreSQL or the file unreadable) or bad arguments.
"""
VERIFY_EPILOG = """\
examples:
  firmtext audit verify
  firmtext audit verify --format json
  firmtext audit dump --out log.jsonl && firmtext audit verify --log-file log.jsonl --no-store
"""
DUMP = """\
Writes a JSON-lines copy of the whole events log (offset 0 up to the end offsets found at
start): a header line (topic, end offsets, the relay's published position, time), then one
line per Kafka record {"partition", "offset", "key", "envelope"}. Nothing is decrypted: the
copy holds exactly what Kafka holds, so it can be handed to a third party, who checks it
with `firmtext audit verify --log-file PATH --no-store` or their own script (docs/audit.md).
Exit status: 0 written; 2 Kafka or the file could not be used.
"""


async def _check_log(container: Container, log_file: str | None, verifier: ChainVerifier) -> dict:
    async with open_log(container.kafka_bootstrap, container.settings.events_topic, log_file) as log:
        async for rec in log.records():
            if verifier.feed(rec):
                break
        return getattr(log, "header", None) or {}


def _verify(args: argparse.Namespace, container: Container) -> int:
    # The relay's position is read before the end offsets are captured: everything at or
    # below it is then certainly in the part of the log we read.
    position = None if args.no_store or args.log_file else relay_position(container.database_url)
    verifier = ChainVerifier()
    header = asyncio.run(_check_log(container, args.log_file, verifier))
    result = {"ok": False, "events": verifier.events, "streams": len(verifier.heads),
              "duplicates_skipped": verifier.duplicates}
    found = verifier.first_break
    if found is None and not args.no_store:
        if position is None:  # a dump: its header's position, else all the dump holds
            position = header.get("relay_position")
            position = max(verifier.by_notification, default=0) if position is None else position
        comparison = compare_with_store(verifier, stored_envelopes(container.texting), position)
        result.update(stored=comparison.stored, lag=comparison.lag, relayed_up_to=position)
        found = comparison.first_break
    result["ok"] = found is None
    if found is not None:
        result["break"] = found.as_dict()
    if args.format == "json":
        print(json.dumps(result, sort_keys=True))
    elif found is not None:
        print(f"BROKEN: {found}")
    else:
        store = "" if args.no_store else (f"; event store: {result['stored']} stored, all relayed events "
                                          f"present and identical, lag {result['lag']} not yet relayed")
        print(f"OK: {result['events']} events in {result['streams']} streams verified, "
              f"{result['duplicates_skipped']} republished duplicates skipped{store}")
    return 0 if found is None else 1


async def _dump_log(container: Container, out, position: int | None) -> int:
    async with open_log(container.kafka_bootstrap, container.settings.events_topic) as log:
        header = dump_header(container.settings.events_topic, log.end_offsets, position)
        return await write_dump(out, header, log.records())


def _dump(args: argparse.Namespace, container: Container) -> int:
    try:
        position = relay_position(container.database_url)
    except Exception as exc:  # a copy is still worth having without the database
        print(f"firmtext audit dump: relay position unknown ({exc.__class__.__name__}); "
              "verifying this copy will treat every stored event beyond it as lag", file=sys.stderr)
        position = None
    if args.out == "-":
        count = asyncio.run(_dump_log(container, sys.stdout, position))
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            count = asyncio.run(_dump_log(container, out, position))
    print(f"wrote {count} records to {args.out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    container = Container(Settings.from_env(), pool_size=2)
    try:
        return args.action(args, container)
    except Exception as exc:  # exit 1 means "tampered": anything else that stops us is 2
        print(f"firmtext audit {args.audit_command}: could not complete: {exc}", file=sys.stderr)
        return 2
    finally:
        container.close()


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the events log's hash chains; dump a copy of the log",
                       description="Tamper evidence of the events log. See docs/audit.md.")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = actions.add_parser("verify", help="re-check every hash chain, and the log against the event store",
                           description=VERIFY, epilog=VERIFY_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--log-file", metavar="PATH", help="verify this dump instead of the Kafka topic")
    v.add_argument("--no-store", action="store_true",
                   help="check the chains only; do not read the event store (no database needed)")
    v.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")
    v.set_defaults(func=run, action=_verify)
    d = actions.add_parser("dump", help="write a JSON-lines copy of the whole log",
                           description=DUMP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", metavar="PATH", required=True, help="file to write ('-' for standard output)")
    d.set_defaults(func=run, action=_dump)
