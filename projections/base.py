"""What a projection is: a name (its PostgreSQL schema), its tables, and a pure
``apply(store, event)`` that turns one event into row changes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from projections.store import RowStore, Table
from streams.envelope import Event

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
