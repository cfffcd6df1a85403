"""Opaque cursors: base64url of a small JSON list; anything else is a 422."""
from __future__ import annotations

import base64
import json

from adapters.http.errors import ApiError

MAX_LIMIT, DEFAULT_LIMIT = 200, 50


def encode_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ApiError(422, "invalid_cursor", "That cursor was not issued by this API; start again without it.")
    return values


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ApiError(422, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}.")
    return limit
