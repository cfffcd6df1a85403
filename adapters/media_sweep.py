"""Finishes crypto-shredding after a crash: blocking destroys the conversation's key
first and deletes its media files second; if a process dies between the two, the files
(unreadable already) are removed by this sweep."""
from __future__ import annotations

from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.scopes import conversation_of_scope, conversation_scope


def sweep_shredded_media(store, pool: ConnectionPool) -> int:
    """Delete the media of every conversation whose key was destroyed; returns how many files."""
    folders = [p.name for p in store.root.iterdir() if p.is_dir()] if store.root.is_dir() else []
    if not folders:
        return 0
    with pool.connection() as conn:
        destroyed = {conversation_of_scope(row[0]) for row in conn.execute(
            "SELECT scope FROM data_keys WHERE destroyed_at IS NOT NULL AND scope = ANY(%s)",
            ([conversation_scope(f) for f in folders],)).fetchall()}
    return sum(store.delete_conversation(pool, UUID(c)) for c in destroyed)
