"""What a projection is: a name (its PostgreSQL schema), its tables, and a pure
``apply(store, event)`` that turns one event into row changes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from projections.store import RowStore, Table
from projections.unknown import unknown_version
from domain.envelope import Event

Handler = Callable[[RowStore, Event], None]


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[Table, ...]
    ddl: str  # CREATE TABLE statements; "{schema}" is replaced by the schema name
    handlers: dict[str, Handler]

    @property
    def schema(self) -> str:
        return f"pj_{self.name}"

    def apply(self, store: RowStore, event: Event) -> None:
        """Apply one event; event types this projection does not know are ignored."""
        handler = self.handlers.get(event.type)
        if handler is not None:
            handler(store, event)


Positions = dict[int, tuple[int, int]]  # partition -> (notification id, kafka offset) last applied
SetAside = Callable[[Event, Exception], None]

# PostgreSQL stores neither NUL (in text or jsonb) nor a lone surrogate (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Unstorable(ValueError):
    """The event holds text PostgreSQL cannot store; no projection applies it."""


def unstorable(value) -> bool:
    """True when ``value`` (an event's data) holds text PostgreSQL cannot store."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(unstorable(v) for v in value)
    return False


def apply_new(projection: Projection, store: RowStore, positions: Positions, events: list[Event],
              set_aside: SetAside | None = None) -> Positions:
    """Apply the events not applied before, in order; returns the positions that moved.

    An event at or below its partition's last notification id is a redelivery (or a
    relay republish) and changes nothing: this is what makes projections exactly-once.
    An event the projection cannot apply raises; with ``set_aside`` (the rebuild) it is
    handed to ``set_aside`` instead and passed over, as the live writer does on its
    savepoint path. An event of a published type under a schema version the contract does
    not declare is passed over unapplied. An unstorable event is refused before its handler runs, so both
    ways set aside exactly the same events and neither leaves half of one behind.
    """
    moved: Positions = {}
    for event in events:
        last = positions.get(event.partition, (0, -1))
        if event.notification_id <= last[0]:
            continue
        if unknown_version(event):  # counted by the live writer (projections/unknown.py); never applied
            positions[event.partition] = moved[event.partition] = (event.notification_id, event.offset)
            continue
        try:
            if event.type in projection.handlers and unstorable(event.envelope):
                raise Unstorable("the event holds a NUL character or a lone surrogate, which PostgreSQL "
                                 "cannot store")
            projection.apply(store, event)
        except Exception as exc:
            if set_aside is None:
                raise
            set_aside(event, exc)
        positions[event.partition] = moved[event.partition] = (event.notification_id, event.offset)
    return moved
