"""Replaying the log for people: choose events, open what is sealed, show them.

Pure functions over envelopes; the caller supplies the log records and an ``opener``
(``sealer.open``). A sealed field ``x_ct`` is shown as ``x``: its plaintext while the
key exists, ``"<shredded>"`` once it was destroyed (a blocked number). Nothing here
writes anywhere: the envelope, and so its hash, is never changed.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from domain.envelope import occurred
from domain.scopes import conversation_scope, directory_scope
from streams.log_reader import LogRecord

SHREDDED = "<shredded>"
Opener = Callable[[str, str], "str | None"]


@dataclass(frozen=True)
class ReplayFilter:
    """Which events to show; every given criterion must hold."""

    firm: str | None = None
    stream: str | None = None  # a conversation id (or any aggregate id)
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, env: dict) -> bool:
        if self.firm is not None and env["firm_id"] != self.firm:
            return False
        if self.stream is not None and env["stream_id"] != self.stream:
            return False
        if self.since is not None or self.until is not None:
            when = occurred(env)
            if (self.since and when < self.since) or (self.until and when > self.until):
                return False
        return True


def scope_of(env: dict) -> str:
    """The key scope a sealed field of this event was sealed under."""
    if env["type"].startswith("Contact."):
        return directory_scope(env["firm_id"])
    return conversation_scope(env["stream_id"])


def _opened(fields: dict, scope: str, opener: Opener) -> dict:
    out = {}
    for name, value in fields.items():
        if name.endswith("_ct") and isinstance(value, list):
            out[name[:-3]] = [opener(scope, v) or SHREDDED for v in value]
        elif name.endswith("_ct"):
            out[name[:-3]] = (opener(scope, value) or SHREDDED) if value else value
        elif isinstance(value, list):  # e.g. media: [{id, ..., sha256_ct}]
            out[name] = [_opened(v, scope, opener) if isinstance(v, dict) else v for v in value]
        else:
            out[name] = value
    return out


def open_data(env: dict, opener: Opener) -> dict:
    """The event's data with each ``*_ct`` field, nested ones too, replaced by its plaintext
    (or SHREDDED)."""
    return _opened(env["data"], scope_of(env), opener)


def decoded(rec: LogRecord, env: dict, opener: Opener) -> dict:
    """A log record as replay prints it: where it sits, the envelope, and opened data."""
    out = {"partition": rec.partition, "offset": rec.offset}
    out.update({k: v for k, v in env.items() if k != "data"})
    out["data"] = open_data(env, opener)
    return out


def matching(rec: LogRecord, chosen: ReplayFilter, seen: set[str]) -> dict | None:
    """The record's envelope when it is chosen and not seen before (the relay's republished
    copies are skipped); records that are not events are skipped too: reporting those
    is `firmtext audit verify`'s job."""
    try:
        env = rec.envelope()
    except ValueError:
        return None
    if env["event_id"] in seen or not chosen.matches(env):
        return None
    seen.add(env["event_id"])
    return env


async def replay_log(log, chosen: ReplayFilter, opener: Opener, emit: Callable[[dict], None]) -> int:
    """Decode every chosen event of ``log`` (TopicReader or DumpFile) in log order and
    hand it to ``emit``; returns how many."""
    seen: set[str] = set()
    count = 0
    async for rec in log.records():
        env = matching(rec, chosen, seen)
        if env is not None:
            # Opening sealed fields reads keys from PostgreSQL: off the event loop.
            emit(await asyncio.to_thread(decoded, rec, env, opener))
            count += 1
    return count
