"""What a projection is: a name (its PostgreSQL schema), its tables, and a pure
``apply(store, event)`` that turns one event into row changes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import orjson

from projections.store import RowStore, Table
from projections.unknown import unknown_version
from domain.envelope import Event

Handler = Callable[..., None]  # (store, event), or (store, event, keys) for a keyed projection


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[Table, ...]
    ddl: str  # CREATE TABLE statements; "{schema}" is replaced by the schema name
    handlers: dict[str, Handler]
    # A keyed projection's rows hold keyed digests (projections/search.py): its handlers
    # also take the digester, which only writers handed one (``keys``) can give them.
    keyed: bool = False

    @property
    def schema(self) -> str:
        return f"pj_{self.name}"

    def apply(self, store: RowStore, event: Event, keys=None) -> None:
        """Apply one event; event types this projection does not know are ignored."""
        handler = self.handlers.get(event.type)
        if handler is None:
            return
        if not self.keyed:
            handler(store, event)
        elif keys is None:
            raise ValueError(f"projection {self.name} is keyed: its writer needs the search digester")
        else:
            handler(store, event, keys)


Positions = dict[int, tuple[int, int]]  # partition -> (notification id, kafka offset) last applied
SetAside = Callable[[Event, Exception], None]

# PostgreSQL stores neither NUL (in text or jsonb) nor a lone surrogate (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Unstorable(ValueError):
    """The event holds text PostgreSQL cannot store; no projection applies it."""


def _unstorable(value) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def unstorable(value) -> bool:
    """True when ``value`` (an event's data) holds text PostgreSQL cannot store."""
    try:  # one pass in C: JSON writes NUL as \u0000, and orjson refuses a lone surrogate
        if b"\\u0000" not in orjson.dumps(value):
            return False
    except (TypeError, orjson.JSONEncodeError):
        pass
    return _unstorable(value)  # the exact answer (a literal backslash-u0000 is storable text)


class Screen:
    """What :func:`apply_new` passes over in a batch, found once for every projection:
    events of an unknown schema version, and events PostgreSQL cannot store."""

    def __init__(self, events: list[Event]) -> None:
        self.skipped = {id(e) for e in events if unknown_version(e)}
        self.refused = {id(e) for e in events if id(e) not in self.skipped and unstorable(e.envelope)}


def apply_new(projection: Projection, store: RowStore, positions: Positions, events: list[Event],
              set_aside: SetAside | None = None, screen: Screen | None = None, keys=None) -> Positions:
    """Apply the events not applied before, in order; returns the positions that moved.

    An event at or below its partition's last notification id is a redelivery (or a
    relay republish) and changes nothing: this is what makes projections exactly-once.
    An event the projection cannot apply raises; with ``set_aside`` (the rebuild) it is
    handed to ``set_aside`` instead and passed over, as the live writer does on its
    savepoint path. An event of a published type under a schema version the contract does
    not declare is passed over unapplied. An unstorable event is refused before its handler runs, so both
    ways set aside exactly the same events and neither leaves half of one behind.
    ``screen`` (a batch's :class:`Screen`) saves finding those again per projection.
    """
    moved: Positions = {}
    screen = screen or Screen(events)
    handlers, skipped, refused = projection.handlers, screen.skipped, screen.refused
    for event in events:
        partition, notification_id = event.partition, event.envelope["notification_id"]
        if notification_id <= positions.get(partition, (0, -1))[0]:
            continue
        if id(event) not in skipped:  # else counted by the live writer (projections/unknown.py); never applied
            handler = handlers.get(event.envelope["type"]) if type(event.envelope["type"]) is str else None
            try:
                if handler is not None:
                    if id(event) in refused:
                        raise Unstorable("the event holds a NUL character or a lone surrogate, which PostgreSQL "
                                         "cannot store")
                    if projection.keyed:  # its handlers take the digester (checked by apply)
                        projection.apply(store, event, keys)
                    else:
                        handler(store, event)
            except Exception as exc:
                if set_aside is None:
                    raise
                set_aside(event, exc)
        positions[partition] = moved[partition] = (notification_id, event.offset)
    return moved
