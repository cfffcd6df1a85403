"""`firmtext migrate` creates every layer's tables (adapters/schema.py, projections/schema.py,
streams/schema.py) on an empty database, and running it again over them changes nothing;
processes building the event store application at once take turns."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from adapters import pg_locks
from adapters import schema as adapters_schema
from firmtext import bootstrap
from firmtext.commands.migrate import TABLES, apply_tables, migrate
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


# One API process: per line on stdin, build the event store application afresh, as a new
# process does for its first request, and say "ok" or the error.
_BUILDER = """
import sys
from firmtext.bootstrap import Container
from firmtext.config import Settings
settings = Settings.from_env(secrets=False).with_overrides(database_url=sys.argv[1])
print("ready", flush=True)
for _ in sys.stdin:
    container = Container(settings, pool_size=1)
    try:
        container.texting
        print("ok", flush=True)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}".replace(chr(10), " "), flush=True)
    finally:
        container.close()
"""


def test_processes_starting_together_each_get_the_event_store(make_database, test_settings):
    """Every process builds the event store application when it first needs it, which
    runs eventsourcing's CREATE … IF NOT EXISTS and CREATE OR REPLACE FUNCTION. API
    processes doing it at once failed ("tuple concurrently updated", in about half of the
    rounds of three): a 500 on the first request one served (the fault drill's first
    PUT /v1/firm). Three real processes, ten rounds started together."""
    url = make_database()
    migrate(test_settings.with_overrides(database_url=url))  # as the stack does before the API starts
    root = Path(__file__).resolve().parents[2]
    builders = [subprocess.Popen([sys.executable, "-c", _BUILDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=root) for _ in range(3)]
    try:
        assert [b.stdout.readline().strip() for b in builders] == ["ready"] * 3
        answers = []
        for _ in range(10):
            for b in builders:  # as close together as three pipes allow
                b.stdin.write("go\n")
                b.stdin.flush()
            answers += [b.stdout.readline().strip() for b in builders]
    finally:
        for b in builders:
            b.stdin.close()
            b.wait(10)
    assert [a for a in answers if a != "ok"] == []


def test_a_process_waiting_too_long_for_its_turn_gets_an_operational_error(make_database, test_settings,
                                                                           monkeypatch):
    """A process stuck holding the turn must not hang every other API process: the wait ends
    at POOL_TIMEOUT with psycopg's OperationalError, which the API answers with 503."""
    monkeypatch.setattr(bootstrap, "POOL_TIMEOUT", 1.0)
    url = make_database()
    container = bootstrap.Container(test_settings.with_overrides(database_url=url), pool_size=1)
    try:
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (pg_locks.EVENT_STORE,))
            began = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                container.texting
            assert time.monotonic() - began < 5
    finally:
        container.close()
