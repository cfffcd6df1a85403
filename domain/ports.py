"""What the domain's use cases need from the outside world, as protocols.
Adapters implement them; the composition root wires them in."""
from __future__ import annotations

from typing import Protocol


class Sealer(Protocol):
    """Encrypts sensitive fields under per-scope data keys (crypto-shredding)."""

    def seal(self, scope: str, plaintext: str) -> str:
        """Ciphertext (text-safe) of ``plaintext`` under the key of ``scope``; creates the key."""

    def new_scope(self, scope: str) -> None:
        """Declare a scope that never had a key (saves looking for one)."""

    def open(self, scope: str, ciphertext: str) -> str | None:
        """Plaintext, or None when the scope's key was destroyed."""

    def phone_hash(self, firm: str, e164: str) -> str:
        """Keyed HMAC of a phone number, for lookups without storing the number."""

    def destroy(self, scope: str) -> None:
        """Forget the scope's key for good: its ciphertexts become unreadable."""

