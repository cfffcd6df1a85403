"""The local cluster's planner reads young projection tables by index (issue 11).

A live batch preloads the rows it will touch with one ``= ANY`` query per table
(``PgStore.load_keys``). While a table is young (a few thousand rows, as in the first
hours of a deployment and in every benchmark), PostgreSQL's default random_page_cost of
4.0 made the planner scan it whole instead, about ten times the cost, for every batch.
The cluster under var/ runs with 1.1 (firmtext/infra/postgres.py)."""
from __future__ import annotations

import uuid

import psycopg

from projections.notifications import CONVERSATIONS, NOTIFICATIONS_PROJECTION
from projections.pg_store import PgStore
from projections.writer import ensure_schema


def test_a_batch_preload_reads_a_young_projection_table_by_index(make_database):
    with psycopg.connect(make_database(), autocommit=True) as conn:
        ensure_schema(conn, NOTIFICATIONS_PROJECTION)
        schema = NOTIFICATIONS_PROJECTION.schema
        ids = [str(uuid.uuid4()) for _ in range(8000)]
        with conn.cursor() as cur:
            cur.executemany(f'INSERT INTO "{schema}".conversation_state (conversation_id, firm_id, participants, '
                            'muted, "left") VALUES (%s, %s, %s, %s, %s)',
                            [(i, "firm-a", "[]", "[]", "[]") for i in ids])
        conn.execute(f'ANALYZE "{schema}".conversation_state')
        scans = ("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relid = %s::regclass",
                 (f'"{schema}".conversation_state',))
        with conn.transaction():  # pg_stat_xact_*: counted at once (before: what earlier statements left)
            before = conn.execute(*scans).fetchone()
            store = PgStore(conn, schema)
            store.load_keys(CONVERSATIONS, CONVERSATIONS.key, {(i,) for i in ids[::200]})  # 40 conversations
            after = conn.execute(*scans).fetchone()
        sequential, by_index = after[0] - before[0], after[1] - before[1]
        assert len(store.memory.select(CONVERSATIONS, firm_id="firm-a")) == 40  # every row read
        assert (sequential, by_index > 0) == (0, True), f"sequential scans {sequential}, index scans {by_index}"
