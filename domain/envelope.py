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
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid5

from domain.event_contract import EVENTSOURCING_FIELDS, contract_of

SCHEMA_VERSION = 1  # every type's first version (domain/event_contract.py has each type's own)
GENESIS = "0" * 64
# The largest envelope firmtext stores. Commands whose events would exceed it are refused
# before the event store (413), so every stored event fits the log: the producer's request
# limit and the topic's max.message.bytes (streams/kafka.py) are set well above it. The
# largest legitimate event (a case linking 500 contacts) is about 110 KB.
MAX_ENVELOPE_BYTES = 256 * 1024
# Placeholders for what only the relay knows; sized at their widest so a measured
# envelope is never smaller than the published one.
_WIDEST_NOTIFICATION_ID = 2**63 - 1
_HASH_FIELD_BYTES = len(',"hash":""') + 64
ENVELOPE_FIELDS = ("event_id", "type", "schema_version", "firm_id", "stream_id", "stream_version",
                   "notification_id", "occurred_at", "prev_hash", "hash", "data")
_FIELD_SET = frozenset(ENVELOPE_FIELDS)  # one C-level subset test per envelope


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


# The encoder json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# builds on every call, built once: the same bytes (the hash chain depends on them).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical(obj: Any) -> bytes:
    return _CANONICAL(obj).encode()


def compute_hash(envelope: dict) -> str:
    return hashlib.sha256(canonical({k: v for k, v in envelope.items() if k != "hash"})).hexdigest()


def _unhashed(domain_event: Any, notification_id: int, firm_id: str, prev_hash: str) -> dict:
    stream_id = str(domain_event.originator_id)
    version = domain_event.originator_version
    contract = contract_of(domain_event)
    attributes = {k: _plain(v) for k, v in vars(domain_event).items() if k not in EVENTSOURCING_FIELDS}
    schema_version, data = contract.wire_data(attributes)
    return {
        "event_id": str(uuid5(UUID(stream_id), str(version))),
        "type": contract.wire_type,
        "schema_version": schema_version,
        "firm_id": firm_id,
        "stream_id": stream_id,
        "stream_version": version,
        "notification_id": notification_id,
        "occurred_at": domain_event.timestamp.isoformat(),
        "prev_hash": prev_hash,
        "data": data,
    }


def build_envelope(*, domain_event: Any, notification_id: int, firm_id: str, prev_hash: str) -> dict:
    """The envelope for one stored event, hash included."""
    env = _unhashed(domain_event, notification_id, firm_id, prev_hash)
    env["hash"] = compute_hash(env)
    return env


def envelope_size(domain_event: Any, firm_id: str | None = None) -> int:
    """Bytes of ``domain_event``'s envelope on the wire, before it is stored: what the
    relay will publish, with the fields only it knows at their widest."""
    env = _unhashed(domain_event, _WIDEST_NOTIFICATION_ID,
                    firm_id or getattr(domain_event, "firm_id", None) or "_system", GENESIS)
    return len(canonical(env)) + _HASH_FIELD_BYTES


def encode(envelope: dict) -> bytes:
    return canonical(envelope)


def decode(raw: bytes) -> dict:
    """Parse an envelope; raises ValueError when it is not one."""
    return checked(json.loads(raw))


def checked(env: Any) -> dict:
    """``env`` (parsed JSON) if it is an envelope; raises ValueError when it is not."""
    if not isinstance(env, dict) or not _FIELD_SET <= env.keys():
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


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2024-06-03T14:05``, ``2024-06-03``, ``…Z``); no zone means UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} (try 2024-06-03T14:05:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def occurred(envelope: dict) -> datetime:
    """When the event of a decoded envelope happened (aware, UTC)."""
    return parse_time(envelope["occurred_at"])
