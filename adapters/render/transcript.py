"""A printable HTML transcript of a whole conversation: pure functions, no I/O.

Used by ``GET /v1/conversations/{id}/print`` and usable by an export command. Every
value from outside (bodies, names, numbers) is HTML-escaped: a client's text is
untrusted input. Images are inlined as ``data:`` URIs so the page prints on its own.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from html import escape
from typing import Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.conversation import SYSTEM_USER

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
REJECTION_TEXT = {
    "too_many": "more than 10 images in one text",
    "too_large": "over the 5 MB limit for one text",
    "unsupported_type": "not a JPG, PNG or GIF image",
    "fetch_failed": "could not be downloaded from the carrier",
}
STYLE = """
body{font:11pt/1.45 Georgia,'Times New Roman',serif;color:#111;margin:2em auto;max-width:48em}
h1{font-size:16pt;margin:0 0 .4em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:0 0 1.2em}
dl.facts dt{font-weight:bold}
dl.facts dd{margin:0}
.msg{border-left:4px solid #999;padding:.3em .8em;margin:.7em 0}
.msg.outbound{border-color:#1a5fb4;margin-left:2.5em}
.who{font-weight:bold}
.meta{color:#444;font-size:9.5pt}
.body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25em 0}
img{display:block;max-width:100%;max-height:16cm;margin:.4em 0}
.missing,.rejected{color:#8a1c1c;font-size:9.5pt}
@page{margin:1.5cm}
@media print{body{margin:0;max-width:none}.msg{break-inside:avoid;page-break-inside:avoid}}
"""


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def zone_of(name: str | None) -> ZoneInfo | timezone:
    """The firm's time zone, or UTC when it is unset or unknown."""
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def local_time(moment: datetime | str, zone) -> str:
    """``2024-06-03 14:05 EDT``: the moment in the firm's zone, with its abbreviation."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # the store keeps UTC
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def _sender(message: Mapping, conversation: Mapping, users: Mapping[str, str]) -> str:
    if message["direction"] == "inbound":
        names = [c["name"] for c in conversation.get("contacts") or [] if c.get("name")]
        return ", ".join(names) or conversation.get("phone") or "Unknown number"
    user = message.get("sender_user_id")
    if user == SYSTEM_USER:
        return "Automatic reply"
    return users.get(user) or f"Unknown user ({user})"


def _status(message: Mapping) -> str:
    status = message.get("status") or ("received" if message["direction"] == "inbound" else "queued")
    return f"{status} (error {message['error_code']})" if message.get("error_code") else status


def _images(message: Mapping, images) -> Iterator[str]:
    count = len(message.get("media") or [])
    for n, item in enumerate(message.get("media") or [], start=1):
        data = images.get(item["id"])
        label = f"Image {n} of {count} ({item['content_type']}, {_size(item['size'])})"
        if data is None or item["content_type"] not in INLINE_TYPES:
            yield f'<p class="missing">{_e(label)}: no longer available.</p>'
            continue
        uri = f"data:{item['content_type']};base64,{base64.b64encode(data).decode()}"
        yield f'<figure><img src="{_e(uri)}" alt="{_e(label)}"></figure>'
    rejected = message.get("rejected_media") or []
    if rejected:
        yield '<ul class="rejected">'
        for r in rejected:
            why = REJECTION_TEXT.get(r.get("reason"), r.get("reason") or "rejected")
            yield (f"<li>Attachment {_e(int(r.get('index', 0)) + 1)} ({_e(r.get('content_type'))}) "
                   f"not kept: {_e(why)}.</li>")
        yield "</ul>"


def _message(message: Mapping, conversation: Mapping, users: Mapping[str, str], images, zone) -> Iterator[str]:
    direction = "inbound" if message["direction"] == "inbound" else "outbound"
    verb = "Received" if direction == "inbound" else "Sent"
    yield (f'<article class="msg {direction}" id="m-{_e(message["id"])}"><div class="meta">'
           f'<span class="who">{_e(_sender(message, conversation, users))}</span> · {verb} · '
           f'<time datetime="{_e(message["created_at"])}">{_e(local_time(message["created_at"], zone))}</time>'
           f' · <span class="status">{_e(_status(message))}</span></div>')
    if message.get("body") is None:
        yield '<p class="missing">Text unreadable.</p>'
    elif message["body"]:
        yield f'<div class="body">{_e(message["body"])}</div>'
    yield from _images(message, images)
    yield "</article>\n"


def transcript_chunks(firm: Mapping, conversation: Mapping, messages: Iterable[Mapping],
                      users: Mapping[str, str], images, generated_at: datetime | None = None,
                      message_count: int | None = None) -> Iterator[str]:
    """The transcript as HTML pieces (stream them; images are fetched one at a time).

    ``firm``: name, number, time_zone. ``conversation``: phone, contacts, cases,
    opted_out. ``messages``: read-model dicts, oldest first. ``users``: user id ->
    name. ``images``: anything with ``.get(media_id) -> bytes | None``.
    """
    zone = zone_of(firm.get("time_zone"))
    who = _sender({"direction": "inbound"}, conversation, users)
    contacts = ", ".join(f"{c['name']} ({c.get('kind', 'contact')})" for c in conversation.get("contacts") or [])
    cases = ", ".join(c["name"] for c in conversation.get("cases") or [])
    facts = [("Firm", firm.get("name")), ("Firm number", firm.get("number")),
             ("Client number", conversation.get("phone")), ("Contacts", contacts or "None linked"),
             ("Cases", cases or "None linked"), ("Messages", message_count),
             ("Times shown in", getattr(zone, "key", "UTC")),
             ("Generated", local_time(generated_at or datetime.now(timezone.utc), zone))]
    if conversation.get("opted_out"):
        facts.append(("Opt-out", "This number replied STOP: the firm cannot text it."))
    yield (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
           f"<title>Text conversation with {_e(who)}</title><style>{STYLE}</style></head><body>\n"
           f"<header><h1>Text conversation with {_e(who)}</h1><dl class=\"facts\">")
    yield "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v is not None)
    yield "</dl></header>\n<main>\n"
    for message in messages:
        yield from _message(message, conversation, users, images, zone)
    yield "</main></body></html>\n"


def render_transcript(firm: Mapping, conversation: Mapping, messages: list[Mapping],
                      users: Mapping[str, str], images, generated_at: datetime | None = None) -> str:
    """The whole transcript as one HTML string (see :func:`transcript_chunks`)."""
    return "".join(transcript_chunks(firm, conversation, messages, users, images, generated_at, len(messages)))
