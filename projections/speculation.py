"""A live batch applied once, against the rows the writer already holds.

A cold live batch runs its events twice: a probe finds which rows they read
(projections/preload.py), then the real apply runs once those rows are loaded. After a
batch commits, the live writer keeps its stores (:class:`WarmRows`): every row the batch
read or wrote, as PostgreSQL now holds it. The next batch then runs once, straight
against those rows (:meth:`projections.pg_store.PgStore.speculate`): a row the stores do
not hold is taken as absent, and noted. The rows noted are read in the same round trip
as the batch's locks and tracking. If PostgreSQL holds none of them (they are rows the
batch creates: a new message, a new conversation), the batch stands as it ran. (A
``select`` by columns the stores never read by is answered from the rows they hold; it
was answered right if PostgreSQL has no other row that matches.) Otherwise
its changes are undone, the rows found are remembered, and it runs again, at most
:data:`ROUNDS` times before the usual read-on-touch apply.

The kept rows are only right while this writer is the only one to have changed them.
The batch checks that in the transaction that applies it, under the partition locks:
every projection's tracking (every partition, not only the batch's) must be exactly what
this writer committed last, and each tracking table the very table it was (a rebuild's
swap renames schemas, so a swapped-in table has another oid even when its positions are
the same). Any difference, any failure, and the kept rows are dropped: the batch runs
cold, as it always did. With several workers each sees the others' positions move, so
their batches run cold; warm rows pay off for the worker that owns the partitions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import psycopg

from projections.base import Positions, Projection, Screen, apply_new
from projections.pg_store import PgStore
from domain.envelope import Event

ROUNDS = 3  # speculative runs of a batch before it reads rows on touch
WARM_KEYS = 150_000  # rows (and rows known absent) kept across batches at most, over all projections: ~0.9 KB each


@dataclass
class WarmRows:
    """What the live writer keeps after a commit: its stores, the tracking it committed
    (projection name -> partition -> position) and the oids of the tracking tables."""

    stores: list[PgStore]
    positions: dict[str, Positions]
    oids: tuple

    def size(self) -> int:
        return sum(len(store.loaded) + len(store.selected) for store in self.stores)


def start_tracking_oids(conn: psycopg.Connection, schemas: dict[str, str]) -> Callable[[], tuple]:
    """The oid of each schema's tracking table (None if missing), sent now, read later."""
    names = ['"{}".tracking'.format(schema.replace('"', '""')) for schema in schemas.values()]
    cur = conn.execute("SELECT array(SELECT to_regclass(t)::oid::bigint FROM unnest(%s::text[]) "
                       "WITH ORDINALITY AS x(t, o) ORDER BY o)", (names,))
    return lambda: tuple(cur.fetchone()[0])


class Guess:
    """One projection's batch, run speculatively on its warm store."""

    def __init__(self, projection: Projection, store: PgStore, events: list[Event], screen: Screen, keys) -> None:
        self.projection, self.store, self.events, self.screen, self.keys = projection, store, events, screen, keys
        self.positions: Positions = {}
        self.moved: Positions = {}
        self.failed: Exception | None = None
        self.undone = 0  # runs undone so far
        self.reads: Callable[[], list[tuple]] = lambda: []

    def run(self, positions: Positions) -> None:
        """Apply the batch from ``positions`` (copied), noting what it lacked; sends the
        queries for those rows."""
        self.positions, self.failed = dict(positions), None
        self.store.speculate()
        try:
            self.moved = apply_new(self.projection, self.store, self.positions, self.events, screen=self.screen,
                                   keys=self.keys)
        except Exception as exc:  # perhaps a row taken as absent: decided once the rows are read
            self.failed = exc
        self.reads = self.store.start_lacked_reads()

    def settle(self) -> bool:
        """Read what the run lacked: True if the run stands, else it is undone."""
        found = self.reads()
        stands = self.failed is None and all(self.store.held_before(table, row)
                                             for table, _, _, rows in found for row in rows)
        self.store.settle(found, keep=stands)
        self.undone += not stands
        return stands


def settle_all(guesses: list[Guess], positions: dict[str, Positions]) -> list[Guess]:
    """Settle every guess, running again those undone (from ``positions``, the tracking
    read), up to ROUNDS runs in all; each round's reads share one round trip. Returns
    the guesses that never stood: their stores are out of speculative mode, holding every
    row found, for the usual apply."""
    pending = guesses
    for round_ in range(ROUNDS):
        undone = [g for g in pending if not g.settle()]
        if not undone or round_ == ROUNDS - 1:
            return undone
        for g in undone:
            g.run(positions[g.projection.name])
        pending = undone
    return pending
