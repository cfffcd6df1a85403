"""``firmtext replay``: read the events log from the start and show what happened, decrypted."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from uuid import UUID

from adapters.phone import to_e164
from domain.ids import conversation_id_of
from firmtext.bootstrap import Container
from firmtext.config import Settings
from domain.envelope import parse_time
from projections.history import conversation_at
from streams.log_dump import open_log
from streams.replay import ReplayFilter, replay_log
from adapters.render.replay_view import state_lines, table_header, table_row

DESCRIPTION = """\
Reads the events topic (FIRMTEXT_EVENTS_TOPIC on FIRMTEXT_KAFKA_BOOTSTRAP) from offset 0
up to the end offsets it finds at start, without a consumer group (it disturbs nothing).
Sealed fields (x_ct) are shown decrypted as x, using the data keys in PostgreSQL
(FIRMTEXT_DATABASE_URL, FIRMTEXT_MASTER_KEY); where a key was destroyed because the
number was blocked they read "<shredded>". The relay's republished copies are shown once.

Output: one JSON object per event (--format jsonl, the default: partition, offset, the
envelope fields, and data with sealed fields opened), or a readable table (time, type,
stream, summary). With --as-of: the conversation as it stood at that moment (messages
with their status then, participants, muted/left/archived, opt-out and consent history).

Exit status: 0 done (even if nothing matched; a note goes to stderr); 1 the log or the
database could not be read, or --as-of found no conversation by then; 2 bad arguments.
"""
EPILOG = """\
examples:
  firmtext replay --firm acme --format table
  firmtext replay --firm acme --number +15551230001 --since 2024-06-01 --until 2024-06-30T23:59Z
  firmtext replay --conversation 3f2c...-... --format jsonl > conversation.jsonl
  firmtext replay --firm acme --number +15551230001 --as-of 2024-06-03T14:05:00Z --format table
  firmtext replay --log-file log.jsonl --firm acme      # a copy made by `firmtext audit dump`
"""


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")


async def _replay(container: Container, args: argparse.Namespace, chosen: ReplayFilter, emit) -> int:
    async with open_log(container.kafka_bootstrap, container.settings.events_topic, args.log_file) as log:
        return await replay_log(log, chosen, container.sealer.open, emit)


def _usage(problem: str) -> int:
    print(f"firmtext replay: {problem}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.number and not args.firm:
        return _usage("--number needs --firm (a number is only unique within a firm)")
    if args.as_of and not (args.conversation or args.number):
        return _usage("--as-of needs --conversation or --number")
    if args.as_of and (args.since or args.until):
        return _usage("--as-of replaces --since/--until; give one or the other")
    try:
        since, until, as_of = (parse_time(t) if t else None for t in (args.since, args.until, args.as_of))
        number = to_e164(args.number) if args.number else None
    except ValueError as exc:  # InvalidPhone is a ValueError too
        return _usage(str(exc))
    try:
        conversation = str(UUID(args.conversation)) if args.conversation else None
    except ValueError:
        return _usage(f"--conversation {args.conversation!r} is not a conversation id (a UUID)")
    container = Container(Settings.from_env(), pool_size=2)
    try:
        stream = conversation
        if number:
            stream = str(conversation_id_of(args.firm, container.sealer.phone_hash(args.firm, number)))
        chosen = ReplayFilter(firm=args.firm, stream=stream, since=since, until=until)
        if as_of:
            return _as_of(container, args, chosen, as_of)
        if args.format == "table":
            _emit(table_header())
        emit = (lambda e: _emit(table_row(e))) if args.format == "table" else \
            (lambda e: _emit(json.dumps(e, ensure_ascii=False, sort_keys=True)))
        if asyncio.run(_replay(container, args, chosen, emit)) == 0:
            print("firmtext replay: no events matched", file=sys.stderr)
        return 0
    except BrokenPipeError:  # `firmtext replay | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        container.close()


def _as_of(container: Container, args: argparse.Namespace, chosen: ReplayFilter, as_of) -> int:
    events: list[dict] = []
    asyncio.run(_replay(container, args, chosen, events.append))
    state = conversation_at(events, chosen.stream, as_of)
    if state is None:
        print(f"firmtext replay: conversation {chosen.stream} had not started by {as_of.isoformat()}",
              file=sys.stderr)
        return 1
    if args.format == "table":
        _emit("\n".join(state_lines(state)))
    else:
        _emit(json.dumps(state, ensure_ascii=False, sort_keys=True, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("replay", help="show the events log from the start, decrypted, filtered",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--firm", metavar="FIRM", help="only this firm's events (the firm id the host platform uses)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--conversation", metavar="ID", help="only this conversation (its id, a UUID)")
    which.add_argument("--number", metavar="E164", help="only the conversation with this phone number "
                                                        "(needs --firm; typed forms like (555) 123-0001 work)")
    p.add_argument("--since", metavar="TIME", help="only events at or after TIME (ISO 8601; no zone = UTC; "
                                                   "a date alone = 00:00 that day)")
    p.add_argument("--until", metavar="TIME", help="only events at or before TIME (same forms as --since)")
    p.add_argument("--as-of", metavar="TIME", help="reconstruct the conversation as it stood at TIME "
                                                   "(with --conversation or --number)")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl",
                   help="jsonl: one JSON object per event (default); table: readable columns")
    p.add_argument("--log-file", metavar="PATH", help="read a copy written by `firmtext audit dump` "
                                                      "instead of Kafka")
    p.set_defaults(func=run)
