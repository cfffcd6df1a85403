"""The PostgreSQL-backed RowStore: reads rows on first touch, keeps changes in memory,
and flushes them with the batch's tracking rows in one transaction.

``fresh=True`` is the rebuild mode: this store is the only writer of its schema, so
every row lives in memory (:meth:`load` reads what the tables already hold, e.g. when
a rebuild resumes) and nothing is read back afterwards; rows are written in bulk
(projections/bulk_write.py), and :meth:`take_changes` lets that overlap with the next
batch.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from projections.bulk_write import TableChanges, conflict_action, values_of, write_changes
from projections.fresh_rows import FreshRows
from projections.store import Table, detached_row

LOAD_CHUNK = 2000  # keys per preloading query
# Bytes of JSON per live upsert statement at most (one row may be more: an envelope is at
# most 256 KB). A backlog batch of 4,000 large events in one parameter could pass
# PostgreSQL's 256 MB limit on a jsonb value and fail every time, event by event after.
PAYLOAD_BYTES = 8 * 1024 * 1024


_STATEMENTS: dict[tuple, str] = {}


def statement(key: tuple, build: Callable[[], sql.Composable]) -> str:
    """The statement ``build`` composes, as text, composed once per ``key`` (which must
    name everything it depends on: schema, table, columns). A live batch runs some forty
    small statements, and composing each with psycopg.sql anew took about a fifth of its
    Python CPU (issue 11); the text is also what psycopg's own query cache keys on."""
    text = _STATEMENTS.get(key)
    if text is None:
        if len(_STATEMENTS) > 20_000:  # keys are identifiers and counts: never this many in practice
            _STATEMENTS.clear()
        text = _STATEMENTS[key] = build().as_string()
    return text


def _normalise(table: Table, row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


class PgStore:
    def __init__(self, conn: psycopg.Connection, schema: str, fresh: bool = False) -> None:
        self.conn, self.schema, self.fresh = conn, schema, fresh
        self.memory = FreshRows()
        self.loaded: set[tuple[str, tuple]] = set()  # (table, key) read (found or not)
        self.selected: set[tuple[str, tuple, tuple]] = set()  # (table, columns, values) read
        self.dirty: dict[tuple[str, tuple], Table] = {}
        # Fresh mode: per table, keys changed since the last flush, and keys with a row in PostgreSQL.
        self.changed: dict[str, tuple[Table, set]] = {}
        self.persisted: dict[str, set] = {}
        self.flush_seconds = 0.0
        # Speculative mode (live, warm stores: projections/speculation.py): the batch runs
        # against what memory holds, a row not held is taken as absent and noted, and every
        # change can be undone: (table name, key) -> (table, row before, was it loaded).
        # Rows go out with their JSON columns cloned (``detached_row``): a projection declares
        # every column that holds lists or dicts JSON (``Table.json``), and the realistic
        # test of tests/integration/test_warm_rows.py checks that no kept row has one elsewhere.
        self.undo: dict[tuple[str, tuple], tuple[Table, dict | None, bool]] | None = None
        self.lacked_keys: dict[str, tuple[Table, set]] = {}
        self.lacked_filters: dict[tuple[str, tuple], tuple[Table, tuple, set]] = {}

    def _qualified(self, table: Table) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table.name))

    def _where(self, columns) -> sql.Composed:
        return sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)

    def _remember(self, table: Table, row: dict) -> None:
        key = (table.name, table.key_of(row))
        if key not in self.loaded:
            self.loaded.add(key)
            self.memory.put(table, _normalise(table, row))

    def get(self, table: Table, key: tuple) -> dict | None:
        if self.fresh:
            return self.memory.get(table, key)
        key = tuple(key)
        if self.undo is not None:
            return self._speculative_get(table, key)
        if (table.name, key) not in self.loaded:
            query = statement(("get", self.schema, table.name, table.key), lambda: sql.SQL(
                "SELECT * FROM {} WHERE {}").format(self._qualified(table), self._where(table.key)))
            with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                row = cur.execute(query, key).fetchone()
            self.loaded.add((table.name, key))
            if row is not None:
                self.memory.put(table, _normalise(table, row))
        return self.memory.get(table, key)

    def put(self, table: Table, row: dict) -> None:
        if self.fresh:
            self._changed(table).add(self.memory.put(table, row))
            return
        if self.undo is not None:
            self._keep_for_undo(table, table.key_of(row))
        key = (table.name, self.memory.put(table, row))
        self.loaded.add(key)
        self.dirty[key] = table

    def delete(self, table: Table, key: tuple) -> None:
        if self.fresh:
            self.memory.delete(table, key)
            self._changed(table).add(tuple(key))
            return
        key = (table.name, tuple(key))
        if self.undo is not None:
            self._keep_for_undo(table, key[1])
        self.memory.delete(table, key[1])
        self.loaded.add(key)
        self.dirty[key] = table

    def _changed(self, table: Table) -> set:
        entry = self.changed.get(table.name)
        if entry is None:
            entry = self.changed[table.name] = (table, set())
        return entry[1]

    def load(self, tables) -> int:
        """Fresh mode: read every row ``tables`` already hold into memory; returns how many."""
        count = 0
        for table in tables:
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in table.columns), self._qualified(table))
            persisted = self.persisted.setdefault(table.name, set())
            with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                for row in cur.execute(query):
                    persisted.add(self.memory.put(table, _normalise(table, row)))
                    count += 1
        return count

    def select(self, table: Table, **equals) -> list[dict]:
        if not self.fresh:
            columns = tuple(sorted(equals))
            values = tuple(equals[c] for c in columns)
            if (table.name, columns, values) not in self.selected:
                if self.undo is None:
                    self.load_keys(table, columns, {values}, selected=True)
                else:  # answered from memory (this batch's rows included) if PostgreSQL has none
                    self.lacked_filters.setdefault((table.name, columns), (table, columns, set()))[2].add(values)
            if self.undo is not None:
                return [detached_row(table, row) for row in self.memory.select(table, **equals)]
        return self.memory.select(table, **equals)

    # Speculative mode ----------------------------------------------------------------

    def speculate(self) -> None:
        """Enter speculative mode (live mode, no changes pending)."""
        assert not self.fresh and not self.dirty and self.undo is None
        self.undo, self.lacked_keys, self.lacked_filters = {}, {}, {}

    def _speculative_get(self, table: Table, key: tuple) -> dict | None:
        if (table.name, key) in self.loaded:
            row = self.memory.row(table.name, key)
            return detached_row(table, row) if row is not None else None
        self.lacked_keys.setdefault(table.name, (table, set()))[1].add(key)
        return None

    def _keep_for_undo(self, table: Table, key: tuple) -> None:
        at = (table.name, key)
        if at not in self.undo:
            self.undo[at] = (table, self.memory.row(table.name, key), at in self.loaded)

    def start_lacked_reads(self) -> Callable[[], list[tuple]]:
        """Send the queries for every row the speculative batch lacked; the function
        returned reads them: a list of (table, columns or None for the key, values, rows)."""
        pending = [(table, None, values, self.start_read(table, table.key, values))
                   for table, values in self.lacked_keys.values()]
        pending += [(table, columns, values, self.start_read(table, columns, values))
                    for table, columns, values in self.lacked_filters.values()]
        return lambda: [(table, columns, values, read()) for table, columns, values, read in pending]

    def held_before(self, table: Table, row: dict) -> bool:
        """Whether the store held ``row`` (as read from PostgreSQL) before the speculative
        batch began. Such a row was in every answer the batch got: the store holds it as
        PostgreSQL does. A row it did not hold was missing from one."""
        at = (table.name, table.key_of(row))
        if at not in self.loaded:
            return False
        kept = self.undo.get(at)
        return kept is None or kept[2]

    def settle(self, found: list[tuple], keep: bool) -> None:
        """Leave speculative mode. ``keep``: the batch stands (PostgreSQL had none of the
        rows it lacked, so taking them as absent was right). Otherwise every change is
        undone and the rows ``found`` are remembered, as a preload would have."""
        undo, self.undo = self.undo, None
        if not keep:
            for (name, key), (table, before, was_loaded) in undo.items():
                if before is None:
                    self.memory.delete(table, key)
                else:
                    self.memory.put(table, before)
                if not was_loaded:
                    self.loaded.discard((name, key))
            self.dirty.clear()
        for table, columns, values, rows in found:
            for row in rows:
                self._remember(table, row)
            if columns is None:
                self.loaded.update((table.name, v) for v in values)
            else:
                self.selected.update((table.name, columns, v) for v in values)
        self.lacked_keys, self.lacked_filters = {}, {}

    def load_keys(self, table: Table, columns: tuple, values: set, selected: bool = False) -> int:
        """Live mode: read the rows whose ``columns`` hold one of ``values`` (tuples) in as
        few queries as it takes; with ``selected`` they answer ``select`` by those columns
        from then on, otherwise ``columns`` is the key and missing rows are known absent.
        Returns the queries run."""
        return self.start_load_keys(table, columns, values, selected)()

    def start_load_keys(self, table: Table, columns: tuple, values: set,
                        selected: bool = False) -> Callable[[], int]:
        """:meth:`load_keys` in two halves: the queries are sent now, and the function
        returned reads their rows (and returns how many queries there were). In a pipeline,
        the queries of many calls then share one round trip (projections/preload.py)."""
        read = self.start_read(table, columns, values)

        def finish() -> int:
            rows = read()
            for row in rows:
                self._remember(table, row)
            if selected:
                self.selected.update((table.name, columns, v) for v in values)
            else:
                self.loaded.update((table.name, v) for v in values)
            return read.queries
        return finish

    def start_read(self, table: Table, columns: tuple, values: set) -> Callable[[], list[dict]]:
        """Send the queries for the rows whose ``columns`` hold one of ``values``; the
        function returned reads their rows (its ``queries``: how many were sent)."""
        values, cursors = list(values), []
        for at in range(0, len(values), LOAD_CHUNK):
            chunk = values[at:at + LOAD_CHUNK]
            if len(columns) == 1:
                params = ([v[0] for v in chunk],)
                query = statement(("any", self.schema, table.name, columns), lambda: sql.SQL(
                    "SELECT * FROM {} WHERE {} = ANY(%s)").format(self._qualified(table), sql.Identifier(columns[0])))
            else:
                params = tuple(v for value in chunk for v in value)
                query = statement(("in", self.schema, table.name, columns, len(chunk)),
                                  lambda: self._select_in(table, columns, len(chunk)))
            cur = self.conn.cursor(row_factory=psycopg.rows.dict_row)
            cursors.append(cur)
            cur.execute(query, params)

        def read() -> list[dict]:
            rows = []
            for cur in cursors:
                with cur:
                    rows.extend(cur.fetchall())
            return rows
        read.queries = len(cursors)
        return read

    def _select_in(self, table: Table, columns: tuple, count: int) -> sql.Composed:
        row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() for _ in columns))
        return sql.SQL("SELECT * FROM {} WHERE ({}) IN ({})").format(
            self._qualified(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(", ").join(row for _ in range(count)))

    def take_changes(self) -> list[TableChanges]:
        """Fresh mode: the rows changed since the last call, as values to write (copied out
        of memory, so later batches may change the rows meanwhile)."""
        taken = []
        for table, keys in self.changed.values():
            persisted = self.persisted.setdefault(table.name, set())
            values, change = values_of(table), TableChanges(table)
            for key in keys:
                row = self.memory.row(table.name, key)
                if row is None:
                    if key in persisted:
                        persisted.discard(key)
                        change.deletes.append(key)
                elif key in persisted:
                    change.updates.append(values(row))
                else:
                    persisted.add(key)
                    change.inserts.append(values(row))
            taken.append(change)
        self.changed.clear()
        return taken

    def write_changes(self, changes: list[TableChanges]) -> int:
        """Fresh mode: write what :meth:`take_changes` took (in the caller's transaction)."""
        began = time.perf_counter()
        count = write_changes(self.conn, self.schema, changes)
        self.flush_seconds += time.perf_counter() - began
        return count

    def flush(self) -> int:
        """Write every changed row (upsert or delete); returns how many.

        Live mode writes each table's changed rows with one statement per PAYLOAD_BYTES
        of them, the rows as one JSON parameter (:meth:`_json_upsert_sql`): the whole
        write phase of a batch stays in one pipeline however many rows it has. Rows orjson cannot encode (never the
        case for projection rows, which hold JSON values, text, integers and booleans)
        go row by row, as they all did before."""
        if self.fresh:
            return self.write_changes(self.take_changes())
        upserts: dict[str, tuple[Table, list]] = {}
        deletes: dict[str, tuple[Table, list]] = {}
        for (name, key), table in self.dirty.items():
            row = self.memory.row(name, key)
            if row is None:
                deletes.setdefault(name, (table, []))[1].append(key)
            else:
                upserts.setdefault(name, (table, []))[1].append(row)
        with self.conn.cursor() as cur:
            for table, keys in deletes.values():
                cur.executemany(statement(("delete", self.schema, table.name, table.key), lambda: sql.SQL(
                    "DELETE FROM {} WHERE {}").format(self._qualified(table), self._where(table.key))), keys)
            for table, rows in upserts.values():
                columns = table.columns
                try:
                    payloads = json_arrays([orjson.dumps({c: row[c] for c in columns}) for row in rows])
                except TypeError:  # orjson.JSONEncodeError included
                    cur.executemany(self._upsert_sql(table), [
                        [Jsonb(row[c]) if c in table.json else row[c] for c in columns] for row in rows])
                else:
                    for payload in payloads:
                        cur.execute(self._json_upsert_sql(table), (payload,))
        count = len(self.dirty)
        self.dirty.clear()
        return count

    def _json_upsert_sql(self, table: Table) -> str:
        """``INSERT … SELECT … FROM jsonb_populate_recordset(NULL::table, %s) ON CONFLICT …``:
        PostgreSQL reads each row's columns by their types in the table. A JSON ``null``
        becomes SQL NULL there, so a JSON column's ``null`` is turned back into the JSON
        value ``null``, which is what a row by row upsert (psycopg's ``Jsonb(None)``) and
        the rebuild's COPY store."""
        def build() -> sql.Composed:
            picked = sql.SQL(", ").join(
                sql.SQL("coalesce(r.{}, 'null'::jsonb)").format(sql.Identifier(c)) if c in table.json
                else sql.SQL("r.{}").format(sql.Identifier(c)) for c in table.columns)
            return sql.SQL("INSERT INTO {table} ({cols}) SELECT {picked} FROM jsonb_populate_recordset("
                           "NULL::{table}, %s::jsonb) AS r ON CONFLICT ({keys}) {action}").format(
                table=self._qualified(table), cols=sql.SQL(", ").join(sql.Identifier(c) for c in table.columns),
                picked=picked, keys=sql.SQL(", ").join(sql.Identifier(c) for c in table.key),
                action=conflict_action(table))
        return statement(("json_upsert", self.schema, table.name, table.key, table.columns), build)

    def _upsert_sql(self, table: Table) -> str:
        return statement(("upsert", self.schema, table.name, table.key, table.columns),
                         lambda: self._compose_upsert(table))

    def _compose_upsert(self, table: Table) -> sql.Composed:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
        marks = sql.SQL(", ").join(sql.Placeholder() for _ in table.columns)
        keys = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
        return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {}").format(
            self._qualified(table), cols, marks, keys, conflict_action(table))


def json_arrays(encoded: list[bytes], limit: int | None = None) -> list[str]:
    """JSON arrays of the ``encoded`` JSON values, in order, each at most ``limit`` bytes
    (PAYLOAD_BYTES) unless a single value is larger on its own."""
    limit = PAYLOAD_BYTES if limit is None else limit
    arrays, chunk, size = [], [], 2
    for value in encoded:
        if chunk and size + len(value) + 1 > limit:
            arrays.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 2
        chunk.append(value)
        size += len(value) + 1
    if chunk:
        arrays.append(b"[" + b",".join(chunk) + b"]")
    return [a.decode() for a in arrays]
