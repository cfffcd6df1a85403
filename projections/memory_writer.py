"""The live writer's rules over in-memory stores, for unit tests and tools: the same
pure projection functions and the same exactly-once rule (:func:`apply_new`), with an
event a projection cannot apply set aside (as ``projection_failures`` rows) and unknown
(type, version) pairs counted, as projections/writer.py does over PostgreSQL.

Unlike PostgreSQL's savepoint, nothing undoes the changes an event made in memory
before its handler raised; the projections' handlers check before they write.
"""
from __future__ import annotations

from projections.base import Projection, apply_new
from projections.store import MemoryStore
from projections.unknown import counted, unknown_to
from projections.writer import failure_row
from domain.envelope import Event


class MemoryWriter:
    def __init__(self, projections: list[Projection], keys=None) -> None:
        # As the live writer: keyed projections only with their digester (``keys``).
        projections = [p for p in projections if keys is not None or not p.keyed]
        self.projections, self.is_unknown, self.keys = projections, unknown_to(projections), keys
        self.stores = {p.name: MemoryStore() for p in projections}
        self.positions: dict[str, dict[int, tuple[int, int]]] = {p.name: {} for p in projections}
        self.failures: list[tuple] = []  # projection_failures rows
        self.unknown: dict[tuple[str, str], int] = {}  # (type, version) -> events skipped
        self.handed = 0  # events handed in, redeliveries included

    def apply(self, events: list[Event]) -> int:
        before = {name: dict(positions) for name, positions in self.positions.items()}
        for row in counted(events, self.is_unknown, lambda e: any(
                e.notification_id > positions.get(e.partition, (0, -1))[0] for positions in before.values())):
            self.unknown[row[0], row[1]] = self.unknown.get((row[0], row[1]), 0) + row[2]
        for projection in self.projections:
            apply_new(projection, self.stores[projection.name], self.positions[projection.name], events,
                      lambda event, exc, p=projection: self.failures.append(failure_row(p, event, exc)),
                      keys=self.keys)
        self.handed += len(events)
        return len(events)

    def applied(self, partition: int) -> int:
        """The last notification id every projection applied on ``partition`` (0: none)."""
        return min(positions.get(partition, (0, -1))[0] for positions in self.positions.values())
