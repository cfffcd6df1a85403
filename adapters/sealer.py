"""AES-GCM sealing of sensitive fields under per-scope data keys, wrapped by a master key.

Ciphertext format: ``v1.<base64url(nonce || ciphertext+tag)>``; the scope is the
associated data, so a ciphertext moved to another conversation fails to open.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.keystore import KeyDestroyed, KeyStore
from domain.ids import structural_key

PREFIX = "v1."
CACHE_SECONDS = 5.0  # bounds how long another process may still read a just-destroyed key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def master_key_bytes(encoded: str) -> bytes:
    """Decode FIRMTEXT_MASTER_KEY (base64 of 32 bytes)."""
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError("FIRMTEXT_MASTER_KEY must be base64 of 32 random bytes") from None
    if len(key) != 32:
        raise ValueError("FIRMTEXT_MASTER_KEY must decode to exactly 32 bytes")
    return key


class AesGcmSealer:
    """Implements :class:`domain.ports.Sealer`."""

    def __init__(self, keys: KeyStore, master_key: bytes) -> None:
        self.keys = keys
        self._wrap = AESGCM(hashlib.sha256(b"wrap:" + master_key).digest())
        self._hmac_key = hashlib.sha256(b"phone-hmac:" + master_key).digest()
        self._cache: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def _fresh_wrapped(self, scope: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._wrap.encrypt(nonce, AESGCM.generate_key(256), scope.encode())

    def _unwrap(self, scope: str, wrapped: bytes) -> bytes:
        return self._wrap.decrypt(wrapped[:12], wrapped[12:], scope.encode())

    def _remember(self, scope: str, wrapped: bytes) -> bytes:
        key = self._unwrap(scope, wrapped)
        with self._lock:
            self._cache[scope] = (time.monotonic(), key)
        return key

    def fresh_key(self, scope: str) -> bytes:
        """A new wrapped key for a scope that never had one; stored by whoever calls
        :meth:`keep_keys`, in the transaction of what it seals (domain/unit_of_work.py)."""
        return self._fresh_wrapped(scope)

    def keep_keys(self, keys: Mapping[str, bytes]):
        return self.keys.staged_put(dict(keys))

    def adopt(self, keys: Mapping[str, bytes]) -> None:
        for scope, wrapped in keys.items():
            self._remember(scope, wrapped)

    def preload(self, scopes) -> None:
        """Implements :meth:`domain.ports.Sealer.preload`: one query for the scopes whose key
        is not cached (or cached too long ago); destroyed and absent ones stay uncached."""
        now = time.monotonic()
        with self._lock:
            missing = [s for s in dict.fromkeys(scopes)
                       if not (hit := self._cache.get(s)) or now - hit[0] >= CACHE_SECONDS]
        if missing:
            for scope, wrapped in self.keys.get_many(missing).items():
                self._remember(scope, wrapped)

    def _data_key(self, scope: str, create: bool) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(scope)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            wrapped = self.keys.get(scope)
            if wrapped is None:
                if not create:
                    return None
                wrapped = self.keys.put_if_absent(scope, self._fresh_wrapped(scope))
        except KeyDestroyed:
            if create:
                raise
            return None
        return self._remember(scope, wrapped)

    def seal(self, scope: str, plaintext: str, new_key: bytes | None = None) -> str:
        """Under the scope's key, or under ``new_key`` (from :meth:`fresh_key`, not stored yet)."""
        key = self._unwrap(scope, new_key) if new_key is not None else self._data_key(scope, create=True)
        nonce = os.urandom(12)
        return PREFIX + _b64(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), scope.encode()))

    def seal_bytes(self, scope: str, data: bytes) -> bytes:
        key = self._data_key(scope, create=True)
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, data, scope.encode())

    def open_bytes(self, scope: str, blob: bytes) -> bytes | None:
        key = self._data_key(scope, create=False)
        if key is None:
            return None
        return AESGCM(key).decrypt(blob[:12], blob[12:], scope.encode())

    def open(self, scope: str, ciphertext: str) -> str | None:
        if not ciphertext or not ciphertext.startswith(PREFIX):
            return None
        key = self._data_key(scope, create=False)
        if key is None:
            return None
        blob = _unb64(ciphertext[len(PREFIX):])
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], scope.encode()).decode()
        except InvalidTag:
            return None

    def phone_hash(self, firm: str, e164: str) -> str:
        """A keyed hash of (firm, number): the pair is JSON-encoded, so no two pairs share an input."""
        return hmac.new(self._hmac_key, structural_key(firm, e164).encode(), hashlib.sha256).hexdigest()[:40]

    def index_key(self, scope: str) -> bytes | None:
        """A key for keyed digests of the scope's values (the contact search index), derived
        from its data key, so destroying the scope makes the digests as useless as the
        ciphertext. None when the scope has no key (nothing sealed yet, or destroyed)."""
        key = self._data_key(scope, create=False)
        return None if key is None else hmac.new(key, b"firmtext search index v1", hashlib.sha256).digest()

    def destroy(self, scope: str) -> None:
        self.keys.destroy(scope)
        with self._lock:
            self._cache.pop(scope, None)
