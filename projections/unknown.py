"""Events whose (type, schema version) no projection knows: a newer producer's, or one
from a producer that is not firmtext. They never stop the worker: no handler runs for
them, tracking moves past them, and the live writer counts them per (type, version) in
``projection_unknown_events`` in the batch's own transaction (so a redelivery is not
counted twice). ``firmtext projections status`` shows the counts.
"""
from __future__ import annotations

from typing import Callable

from domain.envelope import Event
from domain.event_contract import CONTRACTS

# wire type -> the schema versions the contract publishes for it.
VERSIONS: dict[str, frozenset[int]] = {c.wire_type: frozenset(c.versions) for c in CONTRACTS.values()}

UPSERT = (
    "INSERT INTO projection_unknown_events (event_type, schema_version, events, first_partition, first_offset, "
    "last_partition, last_offset) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_type, schema_version) "
    "DO UPDATE SET events = projection_unknown_events.events + EXCLUDED.events, "
    "last_partition = EXCLUDED.last_partition, last_offset = EXCLUDED.last_offset, last_seen_at = now()")


def unknown_version(event: Event) -> bool:
    """True for a published type under a schema version the contract does not declare
    (its handlers would read fields it may not have): never applied."""
    versions = VERSIONS.get(event.envelope.get("type")) if type(event.envelope.get("type")) is str else None
    if versions is None:
        return False
    version = event.envelope.get("schema_version")
    return not (type(version) is int and version in versions)


def unknown_to(projections) -> Callable[[Event], bool]:
    """``unknown(event)`` for a writer of ``projections``: the event's type is neither
    published by the contract nor handled by one of them (a test's probe projection
    knows its own types), or it is published but not under the event's version."""
    handled = frozenset(kind for p in projections for kind in p.handlers)

    def unknown(event: Event) -> bool:
        kind = event.envelope.get("type")
        if type(kind) is not str:
            return True
        if kind not in VERSIONS:
            return kind not in handled
        return unknown_version(event)
    return unknown


def version_of(event: Event) -> str:
    return str(event.envelope.get("schema_version"))


def counted(events: list[Event], unknown, new) -> list[tuple]:
    """UPSERT rows for the events of ``events`` that are ``unknown`` and ``new`` (not
    applied before): (type, version, count, first partition, first offset, last partition,
    last offset), one per (type, version)."""
    rows: dict[tuple[str, str], list] = {}
    for event in events:
        if not unknown(event) or not new(event):
            continue
        key = (str(event.type), version_of(event))
        row = rows.get(key)
        if row is None:
            rows[key] = [*key, 1, event.partition, event.offset, event.partition, event.offset]
        else:
            row[2] += 1
            row[5], row[6] = event.partition, event.offset
    return [tuple(r) for r in rows.values()]


def unknown_events(conn) -> list[dict]:
    """What the live writer counted, most frequent first ([] before `firmtext migrate`)."""
    if not conn.execute("SELECT to_regclass('projection_unknown_events')").fetchone()[0]:
        return []
    rows = conn.execute("SELECT event_type, schema_version, events, first_partition, first_offset, last_partition, "
                        "last_offset, first_seen_at, last_seen_at FROM projection_unknown_events "
                        "ORDER BY events DESC, event_type, schema_version").fetchall()
    return [{"event_type": r[0], "schema_version": r[1], "events": r[2], "first": {"partition": r[3], "offset": r[4]},
             "last": {"partition": r[5], "offset": r[6]}, "first_seen_at": r[7].isoformat(),
             "last_seen_at": r[8].isoformat()} for r in rows]
