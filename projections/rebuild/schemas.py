"""A projection's schemas during a rebuild (the swap itself: projections/rebuild/swap.py).

``pj_<name>`` serves; ``pj_<name>__rebuild`` is being built (its ``tracking`` table says
how far, so an interrupted rebuild resumes); ``pj_<name>__old`` exists only between a
swap's commit and the drop that follows it.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from adapters import pg_locks
from projections.base import Projection

REBUILD_LOCK = pg_locks.REBUILD  # with hashtext(projection name): one rebuild per projection at a time


def rebuild_schema(projection: Projection) -> str:
    return f"{projection.schema}__rebuild"


def old_schema(projection: Projection) -> str:
    return f"{projection.schema}__old"


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def drop_schema(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def claim_rebuilds(conn: psycopg.Connection, projections: list[Projection]) -> None:
    """Hold, for ``conn``'s session, the right to rebuild ``projections``: two rebuilds of
    one projection at once would write the same rows. Raises if another run holds it."""
    for projection in projections:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                           (REBUILD_LOCK, projection.name)).fetchone()[0]
        if not got:
            raise RuntimeError(f"another rebuild of {projection.name} is running (pg advisory lock "
                               f"{REBUILD_LOCK}/hashtext('{projection.name}'))")


# -- a rebuild schema's secondary indexes, built once its rows are in --------------------
INDEXES_BUILT = "firmtext: secondary indexes built"


def _statements(projection: Projection, schema: str) -> list[str]:
    ddl = projection.ddl.replace("{schema}", f'"{schema}"')
    return [s.strip() for s in ddl.split(";") if s.strip()]


def _is_index(statement: str) -> bool:
    return statement.upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def create_without_indexes(conn: psycopg.Connection, projection: Projection, schema: str) -> bool:
    """Like ``ensure_schema`` but without the secondary indexes (primary keys stay: bulk
    writes upsert on them); :func:`build_indexes` adds them. True when created."""
    if schema_exists(conn, schema):
        return False
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for statement in _statements(projection, schema):
            if not _is_index(statement):
                conn.execute(statement)
        conn.execute(sql.SQL("CREATE TABLE {}.tracking (partition int PRIMARY KEY, notification_id bigint NOT NULL, "
                             "kafka_offset bigint NOT NULL)").format(sql.Identifier(schema)))
    return True


def build_indexes(conn: psycopg.Connection, projection: Projection, schema: str) -> bool:
    """Create the secondary indexes (same statements, so the same names, as the live
    schema's) and ANALYZE, once: a mark on the schema says it was done. True if built now."""
    mark = conn.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                        (schema,)).fetchone()
    if mark and mark[0] == INDEXES_BUILT:
        return False
    with conn.transaction():
        for statement in _statements(projection, schema):
            if _is_index(statement):
                conn.execute(statement)
        conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(schema), sql.Literal(INDEXES_BUILT)))
    for table in projection.tables:  # the planner's statistics, before the API reads these tables
        conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(table.name)))
    return True
