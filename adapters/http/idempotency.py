"""``Idempotency-Key``: the same key and body return the original result instead of
acting twice; the same key with another body is refused."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb

from adapters.auth import Caller
from adapters.http.errors import ApiError
from domain.errors import NotFound

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

PENDING = 0


def run_idempotently(container: Container, caller: Caller, request: Request, body: bytes,
                     act: Callable[[], tuple[int, dict]],
                     scope_of: Callable[[dict], str] | None = None) -> JSONResponse:
    """Run ``act`` (returning status and payload) at most once per Idempotency-Key.

    The remembered response is sealed under ``scope_of(payload)`` (the conversation's
    key) when it holds a message body or a number, which must be shredded with the rest;
    without ``scope_of`` the payload must hold nothing sensitive and is kept as is.
    """
    key = request.headers.get("idempotency-key")
    if not key:
        status, payload = act()
        return JSONResponse(payload, status_code=status)
    if len(key) > 200:
        raise ApiError(422, "invalid_idempotency_key", "Idempotency-Key must be at most 200 characters.")
    digest = hashlib.sha256(request.method.encode() + request.url.path.encode() + b"\0" + body).hexdigest()
    # Only a digest of the key is stored: clients choose keys, and may put anything in them.
    ident = (caller.firm_id, caller.user_id, hashlib.sha256(key.encode()).hexdigest())
    with container.pool.connection() as conn:
        inserted = conn.execute(
            "INSERT INTO idempotency_keys (firm_id, user_id, key, request_hash, status, response) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (*ident, digest, PENDING, Jsonb({}))).fetchone()
        if not inserted:
            row = conn.execute("SELECT request_hash, status, response FROM idempotency_keys WHERE firm_id = %s "
                               "AND user_id = %s AND key = %s", ident).fetchone()
            if row[0] != digest:
                raise ApiError(422, "idempotency_key_reused",
                               "This Idempotency-Key was already used for a different request.")
            if row[1] == PENDING:
                raise ApiError(409, "request_in_progress", "The first request with this key is still running.")
            stored = row[2]
            if "sealed" in stored:
                opened = container.sealer.open(stored["scope"], stored["sealed"])
                if opened is None:
                    raise NotFound("No such conversation.")
                stored = json.loads(opened)
            return JSONResponse(stored["payload"], status_code=row[1], headers={"Idempotent-Replayed": "true"})
    try:
        status, payload = act()
    except Exception:
        with container.pool.connection() as conn:  # a refused request may be retried with the same key
            conn.execute("DELETE FROM idempotency_keys WHERE firm_id = %s AND user_id = %s AND key = %s", ident)
        raise
    with container.pool.connection() as conn:
        stored = {"payload": json.loads(json.dumps(payload, default=str))}
        if scope_of is not None:
            scope = scope_of(payload)
            stored = {"scope": scope, "sealed": container.sealer.seal(scope, json.dumps(stored))}
        conn.execute("UPDATE idempotency_keys SET status = %s, response = %s WHERE firm_id = %s AND user_id = %s "
                     "AND key = %s", (status, Jsonb(stored), *ident))
    return JSONResponse(payload, status_code=status)
