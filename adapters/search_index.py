"""The sealed contact search index: keyed digests of the digit n-grams of contacts' phone
numbers (docs/privacy.md, "Contact search").

Every substring of 3 and of 4 digits of a contact's numbers is indexed as an HMAC under a
key derived from the firm's directory data key (``AesGcmSealer.index_key``), so a digest
reveals nothing without that key, one firm's digests never match another firm's, and
destroying the directory key makes them useless. A query of 3 or 4 digits is one exact
digest; a longer one needs all of its 4-digit grams, which a contact may hold without
holding the whole run (false positives): the reader checks those on the decrypted numbers.
"""
from __future__ import annotations

import hashlib
import hmac

from psycopg_pool import ConnectionPool

from adapters.keystore import PostgresKeyStore
from adapters.sealer import AesGcmSealer, master_key_bytes
from domain.scopes import directory_scope

GRAM_SIZES = (3, 4)
MIN_QUERY_DIGITS = 3  # fewer digits never search phones (the compose box's rule)
DIGEST_HEX = 16  # 64 bits: a firm has at most 11,000 distinct grams, so collisions are negligible


def digits_of(text: str) -> str:
    """The digits of ``text``, as the search has always read them (``str.isdigit``)."""
    return "".join(ch for ch in text if ch.isdigit())


def phone_grams(phones: list[str]) -> set[str]:
    """Every run of 3 and of 4 digits in any of ``phones``."""
    grams = set()
    for phone in phones:
        digits = digits_of(phone)
        for size in GRAM_SIZES:
            grams.update(digits[i:i + size] for i in range(len(digits) - size + 1))
    return grams


def query_grams(digits: str) -> tuple[list[str], bool]:
    """(grams a contact must hold, whether holding them is exactly "contains ``digits``")."""
    if len(digits) <= max(GRAM_SIZES):
        return [digits], True
    size = max(GRAM_SIZES)
    return list(dict.fromkeys(digits[i:i + size] for i in range(len(digits) - size + 1))), False


class SearchDigests:
    """Keyed digests of grams, per firm; opens contacts' numbers for the projection."""

    def __init__(self, sealer: AesGcmSealer) -> None:
        self.sealer = sealer

    def _digests(self, firm_id: str, grams) -> list[str] | None:
        key = self.sealer.index_key(directory_scope(firm_id))
        if key is None:
            return None
        base = hmac.new(key, digestmod=hashlib.sha256)
        out = []
        for gram in grams:
            h = base.copy()
            h.update(gram.encode())
            out.append(h.hexdigest()[:DIGEST_HEX])
        return out

    def open_phones(self, firm_id: str, phones_ct: list[str]) -> list[str]:
        """A contact's numbers in plaintext (those whose key still exists)."""
        scope = directory_scope(firm_id)
        return [p for p in (self.sealer.open(scope, ct) for ct in phones_ct) if p]

    def of_phones(self, firm_id: str, phones: list[str]) -> list[str]:
        """The sorted, distinct digests of a contact's numbers (none once the key is gone)."""
        return sorted(set(self._digests(firm_id, sorted(phone_grams(phones))) or ()))

    def of_contact(self, firm_id: str, phones_ct: list[str]) -> list[str]:
        return self.of_phones(firm_id, self.open_phones(firm_id, phones_ct)) if phones_ct else []

    def of_query(self, firm_id: str, grams: list[str]) -> list[str] | None:
        """The digests to look up, or None when the firm has no directory key (no match)."""
        return self._digests(firm_id, grams)


def digests_of_database(database_url: str, master_key: str) -> tuple[SearchDigests, ConnectionPool]:
    """A digester with a small pool of its own (a rebuild's replayer); close the pool after."""
    pool = ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False,
                          name="firmtext-search-keys")
    pool.open(wait=True, timeout=30)
    return SearchDigests(AesGcmSealer(PostgresKeyStore(pool), master_key_bytes(master_key))), pool
