"""Where wrapped data keys live. Destroying a key is what makes a conversation unreadable.

A destroyed scope keeps a tombstone so a key can never silently be recreated for it.
"""
from __future__ import annotations

from typing import Protocol

from psycopg_pool import ConnectionPool


class KeyDestroyed(Exception):
    """The scope's key was destroyed (crypto-shredded)."""


class KeyStore(Protocol):
    def get(self, scope: str) -> bytes | None: ...
    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes: ...
    def put_many_if_absent(self, keys: dict[str, bytes]) -> set[str]: ...
    def destroy(self, scope: str) -> None: ...


class InMemoryKeyStore:
    """For unit tests: same semantics, no database."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.destroyed: set[str] = set()

    def get(self, scope: str) -> bytes | None:
        if scope in self.destroyed:
            raise KeyDestroyed(scope)
        return self.keys.get(scope)

    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes:
        if scope in self.destroyed:
            raise KeyDestroyed(scope)
        return self.keys.setdefault(scope, wrapped)

    def put_many_if_absent(self, keys: dict[str, bytes]) -> set[str]:
        return {scope for scope, wrapped in keys.items()
                if scope in self.destroyed or self.keys.setdefault(scope, wrapped) != wrapped}

    def destroy(self, scope: str) -> None:
        self.keys.pop(scope, None)
        self.destroyed.add(scope)


class PostgresKeyStore:
    """Table ``data_keys``: one row per scope; destroy deletes the wrapped key and leaves a tombstone."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def get(self, scope: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT wrapped, destroyed_at FROM data_keys WHERE scope = %s", (scope,)).fetchone()
        if row is None:
            return None
        if row[1] is not None:
            raise KeyDestroyed(scope)
        return bytes(row[0])

    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes:
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO data_keys (scope, wrapped) VALUES (%s, %s) ON CONFLICT (scope) DO NOTHING",
                         (scope, wrapped))
            row = conn.execute("SELECT wrapped, destroyed_at FROM data_keys WHERE scope = %s", (scope,)).fetchone()
        if row[1] is not None:
            raise KeyDestroyed(scope)
        return bytes(row[0])

    def put_many_if_absent(self, keys: dict[str, bytes]) -> set[str]:
        """Store many new keys in one transaction; returns the scopes where another key
        (or a tombstone) was already there, i.e. where the caller's key is NOT the one kept."""
        if not keys:
            return set()
        with self.pool.connection() as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO data_keys (scope, wrapped) VALUES (%s, %s) ON CONFLICT (scope) DO NOTHING",
                                list(keys.items()))
            rows = conn.execute("SELECT scope, wrapped FROM data_keys WHERE scope = ANY(%s)", (list(keys),)).fetchall()
        kept = {scope: bytes(wrapped) if wrapped is not None else None for scope, wrapped in rows}
        return {scope for scope, wrapped in keys.items() if kept.get(scope) != wrapped}

    def destroy(self, scope: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO data_keys (scope, wrapped, destroyed_at) VALUES (%s, NULL, now()) "
                "ON CONFLICT (scope) DO UPDATE SET wrapped = NULL, destroyed_at = now()", (scope,))
