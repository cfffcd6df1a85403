"""The rebuild's bulk path (fresh mode: rows in memory, COPY, staged upserts, deferred
indexes, events a projection ignores filtered out) against the live path (row by row,
reading back what it needs), on the real database: the same realistic events give the
same rows and the same tracking, also when the bulk writer is stopped halfway and a
new one resumes from what the first committed."""
from __future__ import annotations

import json

import psycopg
import pytest
from aiokafka.partitioner import DefaultPartitioner
from psycopg import sql

from bench.events import generate
from projections.registry import ALL
from projections.rebuild.schemas import build_indexes, create_without_indexes
from projections.writer import ProjectionWriter, ensure_schema
from domain.envelope import Event

PARTITIONS = 6


def realistic_log(count: int) -> list[Event]:
    """Generated envelopes placed as the relay would: keyed by firm, offsets per partition."""
    partitioner, offsets, events = DefaultPartitioner(), [0] * PARTITIONS, []
    every = list(range(PARTITIONS))
    for key, value in generate(count, firms=12, seed=2):
        partition = partitioner(key, every, every)
        events.append(Event(json.loads(value), partition, offsets[partition]))
        offsets[partition] += 1
    return events


def contents(conn: psycopg.Connection, prefix: str) -> dict[str, list]:
    """Every row of every table, as PostgreSQL prints the stored row: a SQL NULL and a JSON
    ``null`` in a jsonb column differ here (psycopg reads both as None)."""
    found = {}
    for p in ALL.values():
        for table in [t.name for t in p.tables] + ["tracking"]:
            rows = conn.execute(sql.SQL("SELECT r::text FROM {}.{} AS r").format(
                sql.Identifier(f"{prefix}_{p.name}"), sql.Identifier(table))).fetchall()
            found[f"{p.name}.{table}"] = sorted(r[0] for r in rows)
    return found


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_bulk_rebuild_writes_exactly_what_the_live_path_writes_even_when_resumed(conn):
    events = realistic_log(4_000)
    assert {"Conversation.Blocked", "Contact.Deleted", "Contact.Updated", "Case.Updated", "StaffUser.Updated"} <= \
        {e.type for e in events}
    projections = list(ALL.values())
    live = {p.name: f"live_{p.name}" for p in projections}
    bulk = {p.name: f"bulk_{p.name}" for p in projections}
    for p in projections:
        ensure_schema(conn, p, live[p.name])
        create_without_indexes(conn, p, bulk[p.name])

    live_writer = ProjectionWriter(conn, projections, schemas=live)
    for i in range(0, len(events), 300):
        live_writer.apply(events[i:i + 300])

    half = len(events) // 2
    first = ProjectionWriter(conn, projections, schemas=bulk, fresh=True)
    for i in range(0, half, 700):
        first.write(first.prepare(events[i:min(i + 700, half)]))
    # A new process resumes: it reads the rows back and is handed the log from the
    # earliest position again (as a rebuild re-reads from the tracked offsets).
    second = ProjectionWriter(conn, projections, schemas=bulk, fresh=True)
    resume_at = second.resume_offsets()
    rest = [e for e in events if e.offset >= resume_at.get(e.partition, 0)]
    assert len(rest) < len(events)
    for i in range(0, len(rest), 900):
        second.apply(rest[i:i + 900])
    for p in projections:
        build_indexes(conn, p, bulk[p.name])

    assert contents(conn, "bulk") == contents(conn, "live")
    index_names = "SELECT indexname FROM pg_indexes WHERE schemaname = %s ORDER BY 1"
    for p in projections:  # the same indexes, by the same names, as ensure_schema makes
        assert conn.execute(index_names, (bulk[p.name],)).fetchall() == \
            conn.execute(index_names, (live[p.name],)).fetchall()


def live_pass(conn, prefix: str, events: list[Event], size: int, overlap: int = 0) -> None:
    """Every projection into ``<prefix>_<name>`` by the live writer, ``size`` events a batch,
    each batch starting ``overlap`` events before the previous one ended."""
    projections = list(ALL.values())
    schemas = {p.name: f"{prefix}_{p.name}" for p in projections}
    for p in projections:
        ensure_schema(conn, p, schemas[p.name])
    writer = ProjectionWriter(conn, projections, schemas=schemas)
    for i in range(0, len(events), size):
        writer.apply(events[max(0, i - overlap):i + size])


def test_the_live_path_applies_overlapping_redeliveries_exactly_once(conn):
    """Batches read ahead in a few queries (projections/preload.py) and are written in bulk;
    handed every batch again with the previous batch's tail (a redelivery after a crash),
    the live writer still ends with exactly the rows and tracking of one clean pass."""
    events = realistic_log(3_000)
    live_pass(conn, "clean", events, 400)
    live_pass(conn, "again", events, 250, overlap=170)
    assert contents(conn, "again") == contents(conn, "clean")
