"""`firmtext migrate` creates every layer's tables (adapters/schema.py, projections/schema.py,
streams/schema.py) on an empty database, and running it again over them changes nothing."""
from __future__ import annotations

import re

import psycopg

from adapters import schema as adapters_schema
from firmtext.commands.migrate import TABLES, apply_tables
from projections import schema as projections_schema
from streams import schema as streams_schema


def _tables_declared(ddl: str) -> set[str]:
    return set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl))


def _shape(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = 'public' ORDER BY 1, 2").fetchall() + conn.execute(
        "SELECT indexdef, '', '', '', '' FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1").fetchall()


def test_migrate_applies_each_owners_tables_and_a_second_run_changes_nothing(make_database):
    assert TABLES == (adapters_schema.DDL, projections_schema.DDL, streams_schema.DDL)  # bottom layer first
    with psycopg.connect(make_database(), autocommit=True) as conn:
        apply_tables(conn)
        first = _shape(conn)
        apply_tables(conn)
        assert _shape(conn) == first
    created = {row[0] for row in first if row[1]}
    for ddl in TABLES:
        assert _tables_declared(ddl) and _tables_declared(ddl) <= created
    assert {"relay_status", "outbound_dispatches", "email_deliveries"} <= _tables_declared(streams_schema.DDL)
    added_later = {("outbound_dispatches", "follow_up_at"), ("outbound_dispatches", "follow_ups"),
                   ("email_deliveries", "set_aside_reason"), ("email_deliveries", "set_aside_at")}
    assert added_later <= {row[:2] for row in first}  # the ALTER ... ADD COLUMN IF NOT EXISTS ones


def test_each_owners_tables_stand_alone(make_database):
    """No owner's statements depend on another's tables, so the order is a choice, not a trap."""
    for ddl in TABLES:
        with psycopg.connect(make_database(), autocommit=True) as conn:
            conn.execute(ddl)
            conn.execute(ddl)
