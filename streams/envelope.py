"""The JSON envelope every event travels in on ``firmtext.events`` (see docs/events.md).

Pure functions only: building an envelope from a stored event, hashing, parsing.
The hash covers the envelope without its own ``hash`` field, chained to the previous
event of the same stream; sealed fields are hashed as ciphertext, so crypto-shredding
never breaks a chain.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

SCHEMA_VERSION = 1
GENESIS = "0" * 64
ENVELOPE_FIELDS = ("event_id", "type", "schema_version", "firm_id", "stream_id", "stream_version",
                   "notification_id", "occurred_at", "prev_hash", "hash", "data")
_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def event_type_of(domain_event: Any) -> str:
    """``Aggregate.EventName``, e.g. ``Conversation.InboundReceived``."""
    return type(domain_event).__qualname__


def event_data(domain_event: Any) -> dict:
    return {k: _plain(v) for k, v in vars(domain_event).items() if k not in _SKIP}


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(envelope: dict) -> str:
    return hashlib.sha256(canonical({k: v for k, v in envelope.items() if k != "hash"})).hexdigest()


def build_envelope(*, domain_event: Any, notification_id: int, firm_id: str, prev_hash: str) -> dict:
    """The envelope for one stored event, hash included."""
    stream_id = str(domain_event.originator_id)
    version = domain_event.originator_version
    env = {
        "event_id": str(uuid5(UUID(stream_id), str(version))),
        "type": event_type_of(domain_event),
        "schema_version": SCHEMA_VERSION,
        "firm_id": firm_id,
        "stream_id": stream_id,
        "stream_version": version,
        "notification_id": notification_id,
        "occurred_at": domain_event.timestamp.isoformat(),
        "prev_hash": prev_hash,
        "data": event_data(domain_event),
    }
    env["hash"] = compute_hash(env)
    return env


def encode(envelope: dict) -> bytes:
    return canonical(envelope)


def decode(raw: bytes) -> dict:
    """Parse an envelope; raises ValueError when it is not one."""
    env = json.loads(raw)
    if not isinstance(env, dict) or any(f not in env for f in ENVELOPE_FIELDS):
        raise ValueError("not a firmtext event envelope")
    return env


@dataclass(frozen=True)
class Event:
    """An envelope as consumers see it, with where it sat in Kafka."""

    envelope: dict
    partition: int
    offset: int

    @property
    def type(self) -> str:
        return self.envelope["type"]

    @property
    def data(self) -> dict:
        return self.envelope["data"]

    @property
    def firm_id(self) -> str:
        return self.envelope["firm_id"]

    @property
    def stream_id(self) -> str:
        return self.envelope["stream_id"]

    @property
    def notification_id(self) -> int:
        return self.envelope["notification_id"]

    @property
    def occurred_at(self) -> str:
        return self.envelope["occurred_at"]
