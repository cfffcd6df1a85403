"""The PostgreSQL-backed RowStore: reads rows on first touch, keeps changes in memory,
and flushes them with the batch's tracking rows in one transaction.

``fresh=True`` is the rebuild mode: the tables started empty and every row ever
written is still in memory, so nothing is read back from PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from projections.store import MemoryStore, Table


def _normalise(table: Table, row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


class PgStore:
    def __init__(self, conn: psycopg.Connection, schema: str, fresh: bool = False) -> None:
        self.conn, self.schema, self.fresh = conn, schema, fresh
        self.memory = MemoryStore()
        self.loaded: set[tuple[str, tuple]] = set()
        self.dirty: dict[tuple[str, tuple], Table] = {}

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
        key = tuple(key)
        if not self.fresh and (table.name, key) not in self.loaded:
            query = sql.SQL("SELECT * FROM {} WHERE {}").format(self._qualified(table), self._where(table.key))
            with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                row = cur.execute(query, key).fetchone()
            self.loaded.add((table.name, key))
            if row is not None:
                self.memory.put(table, _normalise(table, row))
        return self.memory.get(table, key)

    def put(self, table: Table, row: dict) -> None:
        self.memory.put(table, row)
        key = (table.name, table.key_of(row))
        self.loaded.add(key)
        self.dirty[key] = table

    def delete(self, table: Table, key: tuple) -> None:
        key = (table.name, tuple(key))
        self.memory.delete(table, key[1])
        self.loaded.add(key)
        self.dirty[key] = table

    def select(self, table: Table, **equals) -> list[dict]:
        if not self.fresh:
            query = sql.SQL("SELECT * FROM {} WHERE {}").format(self._qualified(table), self._where(equals))
            with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                for row in cur.execute(query, tuple(equals.values())).fetchall():
                    self._remember(table, row)
        return self.memory.select(table, **equals)

    def flush(self) -> int:
        """Write every changed row (upsert or delete); returns how many."""
        upserts: dict[str, tuple[Table, list]] = {}
        deletes: dict[str, tuple[Table, list]] = {}
        for (name, key), table in self.dirty.items():
            row = self.memory.rows.get(name, {}).get(key)
            if row is None:
                deletes.setdefault(name, (table, []))[1].append(key)
            else:
                values = [Jsonb(row[c]) if c in table.json else row[c] for c in table.columns]
                upserts.setdefault(name, (table, []))[1].append(values)
        with self.conn.cursor() as cur:
            for table, keys in deletes.values():
                cur.executemany(sql.SQL("DELETE FROM {} WHERE {}").format(
                    self._qualified(table), self._where(table.key)), keys)
            for table, rows in upserts.values():
                cur.executemany(self._upsert_sql(table), rows)
        count = len(self.dirty)
        self.dirty.clear()
        return count

    def _upsert_sql(self, table: Table) -> sql.Composed:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
        marks = sql.SQL(", ").join(sql.Placeholder() for _ in table.columns)
        keys = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
        others = [c for c in table.columns if c not in table.key]
        action = (sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others)) if others \
            else sql.SQL("DO NOTHING")
        return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {}").format(
            self._qualified(table), cols, marks, keys, action)
