"""The evidentiary transcript (streams/export.py) as one self-contained HTML page.

Every value is HTML-escaped: bodies are a client's untrusted text, and so is
everything else that came from outside. Times are shown exactly as recorded (UTC),
because an evidentiary record must not depend on a time-zone conversion.
"""
from __future__ import annotations

from html import escape
from typing import Iterator

STYLE = """
body{font:10.5pt/1.45 Georgia,serif;color:#111;margin:2em auto;max-width:60em}
h1{font-size:15pt}h2{font-size:12.5pt;margin-top:1.6em}
code,.hash{font:8.5pt/1.3 Menlo,Consolas,monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.3em 0}td,th{border:1px solid #bbb;padding:.2em .4em;
vertical-align:top;text-align:left;font-size:9pt}
.msg{border-left:4px solid #999;padding:.3em .8em;margin:1em 0;break-inside:avoid}
.msg.outbound{border-color:#1a5fb4}.body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0}
.bad{color:#8a1c1c;font-weight:bold}.ok{color:#1d6b2f;font-weight:bold}
"""


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ref(ref: dict) -> list:
    return [ref.get("event_id"), ref.get("notification_id"), ref.get("hash")]


def _message(m: dict) -> Iterator[str]:
    who = (m["sender_name"] or m["sender_user_id"]) if m["direction"] == "outbound" else "Client"
    yield (f'<article class="msg {_e(m["direction"])}" id="m-{_e(m["message_id"])}">'
           f"<p><b>{_e(who)}</b> · {_e(m['direction'])} · {_e(m['created_at'])} · status "
           f"<b>{_e(m['status'])}</b> · message {_e(m['message_id'])}</p>")
    yield f'<div class="body">{_e(m["body"])}</div>'
    rec = m["recorded_by"]
    yield ("<p>Recorded by event " + _e(rec.get("event_id")) + ", notification " + _e(rec.get("notification_id"))
           + f', partition {_e(rec.get("partition"))} offset {_e(rec.get("offset"))}, hash '
           + f'<span class="hash">{_e(rec.get("hash"))}</span></p>')
    if m.get("dispatched"):
        d = m["dispatched"]
        yield (f"<p>Handed to the carrier at {_e(d['at'])} as {_e(m.get('carrier_sid'))} "
               f"({_e(d['carrier_status'])}), event {_e(d['event'].get('event_id'))}, hash "
               f'<span class="hash">{_e(d["event"].get("hash"))}</span></p>')
    if m["media"]:
        yield _table(["attachment", "type", "bytes", "sha256"],
                     [[a.get("id"), a.get("content_type"), a.get("size"), a.get("sha256")] for a in m["media"]])
    if m["rejected_media"]:
        yield _table(["rejected attachment #", "type", "reason"],
                     [[r.get("index"), r.get("content_type"), r.get("reason")] for r in m["rejected_media"]])
    yield _table(["status", "at", "error", "event_id", "notification", "hash"],
                 [[s["status"], s["at"], s.get("error_code"), *_ref(s["event"])] for s in m["statuses"]])
    yield "</article>\n"


def _source(source: dict) -> str:
    """``topic firmtext.events, end offsets 0:13 1:0`` rather than a dict's repr."""
    parts = []
    for key, value in source.items():
        if isinstance(value, dict):
            value = " ".join(f"{k}:{v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)


def render_html(doc: dict) -> str:
    """The whole transcript page."""
    conv, firm, chain = doc["conversation"], doc["firm"], doc["chain"]
    state = [name for name in ("opted_out", "archived", "blocked") if conv.get(name)]
    facts = [("Firm", f"{firm.get('name') or ''} ({firm['firm_id']})"), ("Firm number", firm.get("number")),
             ("Client number", conv["phone"]), ("Conversation", conv["conversation_id"]),
             ("Started", conv["started_at"]), ("State", ", ".join(state) or "open"),
             ("Messages", len(doc["messages"])), ("Generated", doc["generated_at"]),
             ("Log source", _source(doc["source"]))]
    verdict = ('<p class="ok">Hash chain of this conversation verified.</p>' if chain["verified"] else
               f'<p class="bad">Hash chain broken: {_e(chain["problem"])}</p>')
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Transcript '
             f'{_e(conv["conversation_id"])}</title><style>{STYLE}</style></head><body>',
             f"<h1>Text conversation transcript</h1>{_table(['fact', 'value'], facts)}{verdict}",
             "<h2>How to check this transcript</h2>",
             "".join(f"<p>{_e(line)}</p>" for line in doc["verification"]), "<h2>Messages</h2>"]
    for m in doc["messages"]:
        parts.extend(_message(m))
    parts.append("<h2>Consent</h2>")
    parts.append(_table(["change", "at", "source", "keyword", "event_id", "notification", "hash"],
                        [[c["change"], c["at"], c["source"], c.get("keyword"), *_ref(c["event"])]
                         for c in conv["consent_history"]]))
    parts.append("<h2>Every event of this conversation (its hash chain)</h2>")
    parts.append(_table(["version", "type", "occurred", "notification", "partition/offset", "prev_hash", "hash"],
                        [[e["stream_version"], e["type"], e["occurred_at"], e["notification_id"],
                          f"{e.get('partition')}/{e.get('offset')}", e["prev_hash"], e["hash"]]
                         for e in chain["events"]]))
    parts.append("</body></html>\n")
    return "".join(parts)
