"""What a projection is: a name (its PostgreSQL schema), its tables, and a pure
``apply(store, event)`` that turns one event into row changes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from projections.store import RowStore, Table
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


def apply_new(projection: Projection, store: RowStore, positions: Positions, events: list[Event]) -> Positions:
    """Apply the events not applied before, in order; returns the positions that moved.

    An event at or below its partition's last notification id is a redelivery (or a
    relay republish) and changes nothing: this is what makes projections exactly-once.
    """
    moved: Positions = {}
    for event in events:
        last = positions.get(event.partition, (0, -1))
        if event.notification_id <= last[0]:
            continue
        projection.apply(store, event)
        positions[event.partition] = moved[event.partition] = (event.notification_id, event.offset)
    return moved
