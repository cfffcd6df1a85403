"""What the domain's use cases need from the outside world, as protocols.
Adapters implement them; the composition root wires them in."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol


class StagedWrite(Protocol):
    """Rows stored in the same transaction as a unit of work's events (the event store's
    recorder applies it just before the events), so both are kept or neither is."""

    def apply(self, cursor: Any) -> None:
        """Write them (``cursor``: the event store's PostgreSQL cursor; None in memory). A row
        that is already there must fail the transaction with eventsourcing's IntegrityError."""


class Sealer(Protocol):
    """Encrypts sensitive fields under per-scope data keys (crypto-shredding)."""

    def seal(self, scope: str, plaintext: str, new_key: bytes | None = None) -> str:
        """Ciphertext (text-safe) of ``plaintext`` under the key of ``scope`` (created if it has
        none), or under ``new_key``, a key from :meth:`fresh_key` not stored yet."""

    def fresh_key(self, scope: str) -> bytes:
        """A new wrapped data key for a scope that never had one. Nothing is stored or
        remembered: the caller stores it with :meth:`keep_keys`, then :meth:`adopt` s it."""

    def keep_keys(self, keys: Mapping[str, bytes]) -> StagedWrite:
        """The write that stores fresh keys in the transaction of what was sealed under them;
        it fails (IntegrityError) when another key, or a tombstone, is there already."""

    def adopt(self, keys: Mapping[str, bytes]) -> None:
        """Use keys from now on, once :meth:`keep_keys` committed them."""

    def open(self, scope: str, ciphertext: str) -> str | None:
        """Plaintext, or None when the scope's key was destroyed."""

    def preload(self, scopes: Iterable[str]) -> None:
        """Fetch the keys of ``scopes`` it does not hold yet in one round trip, so sealing
        under them reads none (a group commit's conversations). Changes nothing stored:
        a scope without a key, or with a destroyed one, is left to :meth:`seal`."""

    def phone_hash(self, firm: str, e164: str) -> str:
        """Keyed HMAC of a phone number, for lookups without storing the number."""

    def destroy(self, scope: str) -> None:
        """Forget the scope's key for good: its ciphertexts become unreadable."""
