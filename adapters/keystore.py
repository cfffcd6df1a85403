"""Where wrapped data keys live. Destroying a key is what makes a conversation unreadable.

A destroyed scope keeps a tombstone so a key can never silently be recreated for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from eventsourcing.persistence import IntegrityError
from psycopg_pool import ConnectionPool


class KeyDestroyed(Exception):
    """The scope's key was destroyed (crypto-shredded)."""


class KeyStore(Protocol):
    def get(self, scope: str) -> bytes | None: ...
    def get_many(self, scopes: list[str]) -> dict[str, bytes]: ...
    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes: ...
    def destroy(self, scope: str) -> None: ...
    def staged_put(self, keys: dict[str, bytes]) -> StagedKeys: ...


@dataclass(frozen=True)
class StagedKeys:
    """New keys, stored in the transaction of the events whose fields they seal (a
    :class:`domain.ports.StagedWrite`): a key never exists without them, nor they without it."""

    keys: dict[str, bytes]
    in_memory: Callable[[dict[str, bytes]], None] | None = None

    def apply(self, cursor: Any) -> None:
        if self.in_memory is not None:
            return self.in_memory(self.keys)
        # No ON CONFLICT: a key (or tombstone) already there fails the whole transaction,
        # and the unit of work decides again, on fresh state.
        cursor.executemany("INSERT INTO data_keys (scope, wrapped) VALUES (%s, %s)", list(self.keys.items()))


class InMemoryKeyStore:
    """For unit tests: same semantics, no database."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.destroyed: set[str] = set()

    def get(self, scope: str) -> bytes | None:
        if scope in self.destroyed:
            raise KeyDestroyed(scope)
        return self.keys.get(scope)

    def get_many(self, scopes: list[str]) -> dict[str, bytes]:
        """The live keys among ``scopes`` (absent and destroyed ones are left out)."""
        return {s: self.keys[s] for s in scopes if s in self.keys and s not in self.destroyed}

    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes:
        if scope in self.destroyed:
            raise KeyDestroyed(scope)
        return self.keys.setdefault(scope, wrapped)

    def destroy(self, scope: str) -> None:
        self.keys.pop(scope, None)
        self.destroyed.add(scope)

    def staged_put(self, keys: dict[str, bytes]) -> StagedKeys:
        return StagedKeys(keys, self._put_new)

    def _put_new(self, keys: dict[str, bytes]) -> None:
        if any(scope in self.keys or scope in self.destroyed for scope in keys):
            raise IntegrityError(f"a key is already there for one of {sorted(keys)}")
        self.keys.update(keys)


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

    def get_many(self, scopes: list[str]) -> dict[str, bytes]:
        """The live keys among ``scopes``, in one query (absent and destroyed ones are left out)."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT scope, wrapped FROM data_keys WHERE scope = ANY(%s) "
                                "AND destroyed_at IS NULL AND wrapped IS NOT NULL", (list(scopes),)).fetchall()
        return {scope: bytes(wrapped) for scope, wrapped in rows}

    def put_if_absent(self, scope: str, wrapped: bytes) -> bytes:
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO data_keys (scope, wrapped) VALUES (%s, %s) ON CONFLICT (scope) DO NOTHING",
                         (scope, wrapped))
            row = conn.execute("SELECT wrapped, destroyed_at FROM data_keys WHERE scope = %s", (scope,)).fetchone()
        if row[1] is not None:
            raise KeyDestroyed(scope)
        return bytes(row[0])

    def staged_put(self, keys: dict[str, bytes]) -> StagedKeys:
        return StagedKeys(keys)

    def destroy(self, scope: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO data_keys (scope, wrapped, destroyed_at) VALUES (%s, NULL, now()) "
                "ON CONFLICT (scope) DO UPDATE SET wrapped = NULL, destroyed_at = now()", (scope,))
