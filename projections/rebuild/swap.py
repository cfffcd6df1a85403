"""The swap: rebuilt schemas take the place of the live ones, in one transaction, while
live workers keep running.

Live batches hold SWAP_LOCK shared (projections/writer.py); the swap takes it
exclusively, so the batch in flight commits first and the next ones wait. Under the
lock the rebuilt schemas catch up to at least where the live ones got (never a gap for
the worker, which carries on from the rebuilt tracking), then the renames commit;
readers see the old tables or the new ones, never a mix. The old schemas are dropped
after the commit.
"""
from __future__ import annotations

import asyncio

import psycopg
from psycopg import sql

from adapters.search_index import digests_of_database
from projections.base import Projection
from projections.rebuild.schemas import drop_schema, old_schema, rebuild_schema, schema_exists
from projections.rebuild.topic_range import TopicRange
from projections.writer import SWAP_LOCK, ProjectionWriter, tracked


def live_positions(conn: psycopg.Connection, projections: list[Projection]) -> dict[int, int]:
    """partition -> the next offset after the furthest any live schema has applied."""
    furthest: dict[int, int] = {}
    for projection in projections:
        if schema_exists(conn, projection.schema):
            for partition, (_nid, offset) in tracked(conn, projection.schema).items():
                furthest[partition] = max(furthest.get(partition, 0), offset + 1)
    return furthest


def lock_out_live_writers(conn: psycopg.Connection, timeout_s: float = 30.0) -> None:
    """In ``conn``'s open transaction: wait for the live batch in flight to commit and keep
    the next ones waiting until this transaction ends (they take SWAP_LOCK shared)."""
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms")))
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SWAP_LOCK,))


def swap_in(conn: psycopg.Connection, projections: list[Projection]) -> None:
    """In ``conn``'s open transaction: every rebuilt schema replaces its live one (renames
    only; readers see the old tables or the new ones, never a mix). Commit, then
    :func:`drop_old`."""
    for projection in projections:
        if schema_exists(conn, projection.schema):
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(projection.schema), sql.Identifier(old_schema(projection))))
        conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
            sql.Identifier(rebuild_schema(projection)), sql.Identifier(projection.schema)))
        conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS NULL").format(sql.Identifier(projection.schema)))


def drop_old(conn: psycopg.Connection, projections: list[Projection]) -> None:
    """Drop what a swap replaced (waits for readers still on the old tables)."""
    for projection in projections:
        drop_schema(conn, old_schema(projection))


async def swap_in_live(database_url: str, bootstrap: str, topic: str, projections: list[Projection],
                       master_key: str | None = None) -> None:
    """Catch up under the lock, rename, commit, drop the old schemas (keyed projections
    catch up with digests from ``master_key``)."""
    conn = await asyncio.to_thread(psycopg.connect, database_url)  # not autocommit: one transaction
    keys, keys_pool = digests_of_database(database_url, master_key) if master_key is not None else (None, None)
    try:
        await asyncio.to_thread(lock_out_live_writers, conn)
        writer = ProjectionWriter(conn, projections, schemas={p.name: rebuild_schema(p) for p in projections},
                                  keys=keys)
        live = await asyncio.to_thread(live_positions, conn, projections)
        ours = await asyncio.to_thread(writer.resume_offsets)
        behind = {p: end for p, end in live.items() if end > ours.get(p, 0)}
        if behind:  # the live worker got further than the replay
            async with TopicRange(bootstrap, topic) as log:
                ends = await log.end_offsets()
                if any(end > ends.get(p, 0) for p, end in behind.items()):
                    raise RuntimeError(f"the live projections are past the end of {topic}: were they built "
                                       "from another topic? Nothing was swapped.")
                # Row by row, in this transaction (a savepoint per batch): it is little.
                async for events in log.read(ours, behind, max_records=5_000):
                    await asyncio.to_thread(writer.apply, events)
        await asyncio.to_thread(swap_in, conn, projections)
        await asyncio.to_thread(conn.commit)
        await asyncio.to_thread(conn.execute, "SET lock_timeout = 0")
        await asyncio.to_thread(drop_old, conn, projections)
        await asyncio.to_thread(conn.commit)
    finally:
        await asyncio.to_thread(conn.close)
        if keys_pool is not None:
            await asyncio.to_thread(keys_pool.close)
