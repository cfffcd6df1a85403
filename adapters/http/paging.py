"""Paging: ``limit`` bounds and opaque, tamper-evident cursors.

A cursor is ``<base64url JSON list>.<base64url HMAC-SHA256, 128 bits>``. The MAC key is
derived from FIRMTEXT_JWT_SECRET with HKDF and its own purpose label, and the MAC
covers the firm and the endpoint as well as the values: a cursor altered, forged, or
taken to another firm or endpoint is a 422 ``invalid_cursor``, never a query with
values of the wrong type (which used to be a 500).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from adapters.http.errors import ApiError
from domain.ids import structural_key

MAX_LIMIT, DEFAULT_LIMIT = 200, 50
MAX_CURSOR_CHARS = 2048  # the longest we issue: a 200-character name and an id, encoded
_PURPOSE = b"firmtext paging cursor v1"
_MAC_BYTES = 16


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> ApiError:
    return ApiError(422, "invalid_cursor", "That cursor was not issued by this API; start again without it.")


class Cursors:
    """The cursors of one endpoint (``scope``: its name and, e.g., the conversation) for one firm."""

    def __init__(self, secret: str, firm_id: str, *scope: str) -> None:
        self._key, self._bound = _key(secret), structural_key(firm_id, *scope)

    def _mac(self, payload: str) -> bytes:
        message = (self._bound + "\n" + payload).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, *values: str | int) -> str:
        """The cursor that resumes after ``values`` (the sort key of the page's last item)."""
        payload = _b64(json.dumps(list(values), separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def read(self, cursor: str | None, *types: type) -> list | None:
        """The values of a cursor this endpoint issued to this firm, one per type in
        ``types``; None without a cursor; ApiError 422 ``invalid_cursor`` otherwise."""
        if not cursor:
            return None
        payload, dot, mac = cursor.partition(".")
        if len(cursor) > MAX_CURSOR_CHARS or not dot:
            raise _refused()
        try:
            valid = hmac.compare_digest(_unb64(mac), self._mac(payload))
            values = json.loads(_unb64(payload)) if valid else None
        except (ValueError, binascii.Error):
            values = None
        # A valid MAC means we wrote it; the types are checked anyway (a change of format).
        if not isinstance(values, list) or len(values) != len(types) or not all(
                isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types)):
            raise _refused()
        return values


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ApiError(422, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}.")
    return limit
