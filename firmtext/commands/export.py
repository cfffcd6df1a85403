"""``firmtext export conversation``: an evidentiary transcript (JSON + HTML) from the log."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from uuid import UUID

from firmtext.bootstrap import Container
from firmtext.config import Settings
from streams.audit import ChainVerifier
from streams.export import firm_facts, transcript
from adapters.render.export_html import render_html
from projections.history import conversation_at
from streams.log_dump import open_log
from streams.replay import decoded

DESCRIPTION = """\
Writes DIR/conversation-<ID>.json and DIR/conversation-<ID>.html: every message of the
conversation (decrypted text, direction, sender, times, each delivery status with its
time, attachments with their sha256), each tied to the event that recorded it by
event_id, notification_id, Kafka partition/offset and hash, plus the conversation's whole
hash chain and a header explaining how a third party re-checks it against a copy of the
log (`firmtext audit dump`). Texts of a blocked number read "<shredded>".

Reads the events topic from offset 0 (FIRMTEXT_KAFKA_BOOTSTRAP, FIRMTEXT_EVENTS_TOPIC) or
a dump (--log-file), and data keys from PostgreSQL (FIRMTEXT_DATABASE_URL,
FIRMTEXT_MASTER_KEY). The files contain client texts and numbers: store them as such.

Exit status: 0 written (the chain of the conversation verified); 1 the conversation is
not in the firm's log, its chain is broken (the files are still written, marked so), or
Kafka/PostgreSQL could not be read; 2 bad arguments.
"""
EPILOG = """\
example:
  firmtext export conversation 3f2c0a4e-...-... --firm acme --out evidence/
"""
_FIRM_TYPES = ("Firm.", "StaffUser.")


async def _collect(container: Container, args: argparse.Namespace, conversation_id: str):
    """(conversation events decoded, firm events decoded, chain problem, source)."""
    chain, firm_events, verifier, seen = [], [], ChainVerifier(), set()
    async with open_log(container.kafka_bootstrap, container.settings.events_topic, args.log_file) as log:
        async for rec in log.records():
            try:
                env = rec.envelope()
            except ValueError:
                continue  # not an event: `firmtext audit verify` reports those
            if env["firm_id"] != args.firm:
                continue
            if env["stream_id"] == conversation_id:
                verifier.feed(rec)  # every copy: byte-identical republications are skipped there
                if env["event_id"] not in seen:
                    chain.append(await asyncio.to_thread(decoded, rec, env, container.sealer.open))
            elif env["type"].startswith(_FIRM_TYPES) and env["event_id"] not in seen:
                firm_events.append(decoded(rec, env, lambda scope, ct: None))  # nothing sealed there
            seen.add(env["event_id"])
        problem = str(verifier.first_break) if verifier.first_break else None
        return chain, firm_events, problem, log.describe()


def run(args: argparse.Namespace) -> int:
    try:
        conversation_id = str(UUID(args.conversation_id))
    except ValueError:
        print(f"firmtext export: {args.conversation_id!r} is not a conversation id (a UUID)", file=sys.stderr)
        return 2
    container = Container(Settings.from_env(), pool_size=2)
    try:
        chain, firm_events, problem, source = asyncio.run(_collect(container, args, conversation_id))
    finally:
        container.close()
    state = conversation_at(chain, conversation_id)
    if state is None:
        print(f"firmtext export: firm {args.firm} has no conversation {conversation_id} in the log",
              file=sys.stderr)
        return 1
    firm, users = firm_facts(firm_events, args.firm)
    doc = transcript(state, chain, problem, firm, users, source)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / f"conversation-{conversation_id}.json", out / f"conversation-{conversation_id}.html"
    json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    html_path.write_text(render_html(doc), encoding="utf-8")
    print(f"wrote {json_path} and {html_path} ({len(doc['messages'])} messages, "
          f"{len(chain)} events)", file=sys.stderr)
    if problem:
        print(f"firmtext export: hash chain BROKEN: {problem}", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="write an evidentiary transcript of a conversation (JSON + HTML)",
                       description="Evidence exports from the events log. See docs/audit.md.")
    what = p.add_subparsers(dest="export_what", metavar="WHAT", required=True)
    c = what.add_parser("conversation", help="one conversation, with every event's hash",
                        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("conversation_id", metavar="ID", help="the conversation id (a UUID, as the API shows it)")
    c.add_argument("--firm", required=True, help="the firm the conversation belongs to (checked)")
    c.add_argument("--out", metavar="DIR", required=True, help="directory to write into (created if missing)")
    c.add_argument("--log-file", metavar="PATH", help="read a copy from `firmtext audit dump` instead of Kafka")
    c.set_defaults(func=run)
