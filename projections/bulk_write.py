"""How a rebuild writes its rows: in bulk. New rows go in with ``COPY``; rows written
before and changed since go through a session-private staging table (``COPY`` in, one
``INSERT … ON CONFLICT DO UPDATE`` out); removed rows are deleted by key.

Changes are taken (:func:`changes_of`, values copied out of memory) apart from being
written (:func:`write_changes`), so a rebuild can apply its next batch in memory while
PostgreSQL is still writing the previous one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import itemgetter

import psycopg
from psycopg import sql

from projections.store import Table


@dataclass
class TableChanges:
    table: Table
    inserts: list = field(default_factory=list)  # value rows, in table.columns order
    updates: list = field(default_factory=list)
    deletes: list = field(default_factory=list)  # keys


def values_of(table: Table):
    """row -> the values COPY writes, in ``table.columns`` order (JSON columns as text)."""
    columns = table.columns
    pick = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    at = [i for i, c in enumerate(columns) if c in table.json]
    if not at:
        return pick

    def values(row: dict) -> list:
        picked = list(pick(row))
        for i in at:
            picked[i] = json.dumps(picked[i])
        return picked
    return values


def _qualified(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _copy(cur: psycopg.Cursor, target: sql.Composable, table: Table, rows: list) -> None:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy:
        for values in rows:
            copy.write_row(values)


def upsert_from_stage(cur: psycopg.Cursor, schema: str, table: Table, rows: list) -> None:
    """Insert or update ``rows`` (values, keys unique) through a session-private staging table."""
    stage = sql.Identifier(f"stage__{schema}__{table.name}"[:63])
    # Every time: a rolled-back transaction takes a just-created temp table with it.
    cur.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS").format(
        stage, _qualified(schema, table.name)))
    _copy(cur, stage, table, rows)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
    action = conflict_action(table)
    cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
        _qualified(schema, table.name), cols, cols, stage, keys, action))


def conflict_action(table: Table) -> sql.Composable:
    """An upsert's ``ON CONFLICT (key)`` action: every other column from EXCLUDED, or
    nothing to do when the key is every column."""
    others = [c for c in table.columns if c not in table.key]
    if not others:
        return sql.SQL("DO NOTHING")
    return sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others)


def write_changes(conn: psycopg.Connection, schema: str, changes: list[TableChanges]) -> int:
    """Write ``changes`` into ``schema`` (inside the caller's transaction); returns rows touched."""
    count = 0
    with conn.cursor() as cur:
        for change in changes:
            table = change.table
            if change.deletes:
                where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in table.key)
                cur.executemany(sql.SQL("DELETE FROM {} WHERE {}").format(
                    _qualified(schema, table.name), where), change.deletes)
            if change.inserts:
                _copy(cur, _qualified(schema, table.name), table, change.inserts)
            if change.updates and len(table.key) < len(table.columns):  # all-key rows cannot change
                upsert_from_stage(cur, schema, table, change.updates)
            count += len(change.inserts) + len(change.updates) + len(change.deletes)
    return count
