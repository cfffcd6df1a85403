"""The local cluster's planner reads young projection tables by index (issue 11).

A live batch preloads the rows it will touch with one ``= ANY`` query per table
(projections/pg_store.py). While a table is young (a few thousand rows, as in the first
hours of a deployment and in every benchmark), PostgreSQL's default random_page_cost of
4.0 made the planner scan it whole instead, about ten times the cost, for every batch.
The cluster under var/ runs with 1.1 (firmtext/infra/postgres.py)."""
from __future__ import annotations

import json
import uuid

import psycopg

from projections.notifications import NOTIFICATIONS_PROJECTION
from projections.writer import ensure_schema


def _plan_nodes(plan: dict) -> list[str]:
    return [plan["Node Type"]] + [n for child in plan.get("Plans", []) for n in _plan_nodes(child)]


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
        # The preload's query (PgStore.load_keys) for a batch touching 40 conversations.
        explained = conn.execute(f'EXPLAIN (FORMAT JSON) SELECT * FROM "{schema}".conversation_state '
                                 'WHERE conversation_id = ANY(%s)', (ids[::200],)).fetchone()[0]
        plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
        assert "Seq Scan" not in _plan_nodes(plan), plan
