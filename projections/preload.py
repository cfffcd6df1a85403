"""Read a live batch's rows in a few queries instead of one per row.

Projection functions read rows as they go (``get`` by key, ``select`` by columns), so
which rows a batch needs is only known by running them. :func:`preload_all` runs the batch
against a :class:`Probe` first: it answers from what the store already holds, notes every
row and filter it does not, and writes nothing. Those are then read in one query per
table (and per filter column), and the probe runs again for the reads that depended on
them (a contact's old phones, say), until nothing is missing. The real apply afterwards
finds every row in memory; anything a probe missed is still read on first touch.
"""
from __future__ import annotations

from projections.base import Projection
from projections.store import Table, detached as _detached
from domain.envelope import Event

ROUNDS = 4  # reads that depend on reads that depend on reads: more would be unusual


class Probe:
    """A RowStore over ``store``'s loaded rows that records what it lacks, and which event
    lacked it. What the batch's handlers write stays in the probe (``written``), so a later
    event of the batch reads a row an earlier one made (a conversation started in the same
    batch) and goes on reading."""

    def __init__(self, store, written: dict) -> None:
        self.store, self.written = store, written
        self.keys: dict[str, tuple[Table, set]] = {}
        self.filters: dict[tuple[str, tuple], tuple[Table, tuple, set]] = {}
        self.event = -1  # index of the event being probed
        self.lacked: dict[int, list[tuple]] = {}  # event index -> (table, columns, values) it lacked

    def get(self, table: Table, key: tuple) -> dict | None:
        key = tuple(key)
        if (table.name, key) in self.written:  # written earlier in the batch: read on as it would
            return self.written[table.name, key]  # the probe's own (nothing shares it with the store)
        if (table.name, key) in self.store.loaded:
            row = self.store.memory.get(table, key)
            return _detached(row) if row is not None else None
        self.keys.setdefault(table.name, (table, set()))[1].add(key)
        self.lacked.setdefault(self.event, []).append((table, None, key))
        return None

    def put(self, table: Table, row: dict) -> None:
        self.written[table.name, table.key_of(row)] = row

    def delete(self, table: Table, key: tuple) -> None:
        self.written[table.name, tuple(key)] = None

    def select(self, table: Table, **equals) -> list[dict]:
        columns = tuple(sorted(equals))
        values = tuple(equals[c] for c in columns)
        if (table.name, columns, values) in self.store.selected:
            return [_detached(row) for row in self.store.memory.select(table, **equals)]
        self.filters.setdefault((table.name, columns), (table, columns, set()))[2].add(values)
        self.lacked.setdefault(self.event, []).append((table, columns, values))
        return []

    def found(self, table: Table, columns: tuple | None, values: tuple) -> bool:
        """Whether a row it lacked turned out to exist (else the probe's answer was right)."""
        if columns is None:
            return self.store.memory.row(table.name, values) is not None
        return bool(self.store.memory.select(table, **dict(zip(columns, values))))


def preload_all(work: list[tuple[Projection, object]], events: list[Event], keys=None) -> int:
    """Load into each (projection, live PgStore) pair's store the rows ``events`` will read
    there; returns the queries run. ``keys``: the search digester a keyed projection's
    handlers take (projections/search.py). Each round's queries of every projection are
    sent before any is read, so on a connection in a pipeline (the live writer's) a round
    costs one round trip, whatever the number of projections and tables: a small batch's
    preload is then usually the one trip its tracking read takes."""
    pending = []
    for projection, store in work:
        handled = [e for e in events if type(e.type) is str and e.type in projection.handlers]
        if handled:
            pending.append((projection, store, handled, {}))
    queries = 0
    for _ in range(ROUNDS):
        probes = []
        for projection, store, todo, written in pending:
            probe = Probe(store, written)
            for probe.event, event in enumerate(todo):
                try:
                    projection.apply(probe, event, keys)
                except Exception:  # a read the probe could not answer yet; the real apply will tell
                    pass
            if probe.lacked:
                probes.append((projection, store, todo, written, probe))
        reads = []
        for _, store, _, _, probe in probes:
            for table, wanted in probe.keys.values():
                reads.append(store.start_load_keys(table, table.key, wanted))
            for table, columns, values in probe.filters.values():
                reads.append(store.start_load_keys(table, columns, values, selected=True))
        queries += sum(finish() for finish in reads)
        # Only an event that lacked a row which exists may read on differently: run those again.
        pending = []
        for projection, store, todo, written, probe in probes:
            again = [todo[i] for i, lacked in probe.lacked.items() if any(probe.found(*miss) for miss in lacked)]
            if again:
                pending.append((projection, store, again, written))
        if not pending:
            break
    return queries
