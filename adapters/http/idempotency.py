"""``Idempotency-Key``: the same key and body return the original result instead of
acting twice; the same key with another body is refused.

The remembered answer is stored in the SAME transaction as the events the request stores
(a staged write of its unit of work, adapters/unit_recorder.py). So whatever instant the
API process dies at, a retry either finds the answer (the events were kept: it is
replayed) or finds nothing (nothing was kept: it runs again). Two requests with one key at
once both decide, but only one transaction can insert the key: the other fails, decides
again, and replays the winner's answer. A refusal stores nothing, so it may be retried.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb

from adapters.auth import Caller
from adapters.http.errors import ApiError
from domain.errors import NotFound
from domain.unit_of_work import UnitOfWork

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

PENDING = 0  # written only by releases before the answer moved into the events' transaction
PENDING_LEASE_SECONDS = 30  # such a row older than this was left by a process that died


@dataclass(frozen=True)
class IdempotentAnswer:
    """The answer to remember, as a :class:`domain.ports.StagedWrite` of the request's unit."""

    ident: tuple[str, str, str]
    request_hash: str
    status: int
    response: dict

    def apply(self, cursor: Any) -> None:
        cursor.execute("INSERT INTO idempotency_keys (firm_id, user_id, key, request_hash, status, response) "
                       "VALUES (%s, %s, %s, %s, %s, %s)",
                       (*self.ident, self.request_hash, self.status, Jsonb(self.response)))


def run_idempotently(container: Container, caller: Caller, request: Request, body: bytes,
                     act: Callable[[UnitOfWork], tuple[int, dict]],
                     scope_of: Callable[[dict], str] | None = None) -> JSONResponse:
    """Run ``act(unit)`` (returning status and payload) at most once per Idempotency-Key.

    The remembered response is sealed under ``scope_of(payload)`` (the conversation's
    key) when it holds a message body or a number, which must be shredded with the rest;
    without ``scope_of`` the payload must hold nothing sensitive and is kept as is.
    """
    key = request.headers.get("idempotency-key")
    if not key:
        status, payload = container.texting.run(act)
        return JSONResponse(payload, status_code=status)
    if len(key) > 200:
        raise ApiError(422, "invalid_idempotency_key", "Idempotency-Key must be at most 200 characters.")
    digest = hashlib.sha256(request.method.encode() + request.url.path.encode() + b"\0" + body).hexdigest()
    # Only a digest of the key is stored: clients choose keys, and may put anything in them.
    ident = (caller.firm_id, caller.user_id, hashlib.sha256(key.encode()).hexdigest())

    def decide(uow: UnitOfWork) -> JSONResponse:
        replayed = _remembered(container, ident, digest)
        if replayed is not None:
            return replayed
        status, payload = act(uow)
        stored = {"payload": json.loads(json.dumps(payload, default=str))}
        if scope_of is not None:
            scope = scope_of(payload)
            stored = {"scope": scope, "sealed": uow.seal(scope, json.dumps(stored))}
        uow.stage(IdempotentAnswer(ident, digest, status, stored))
        return JSONResponse(payload, status_code=status)

    return container.texting.run(decide)  # a same-key winner makes this decide again: replayed


def _remembered(container: Container, ident: tuple[str, str, str], digest: str) -> JSONResponse | None:
    """The remembered answer to replay, or None when the key was never answered."""
    with container.pool.connection() as conn:
        conn.execute("DELETE FROM idempotency_keys WHERE firm_id = %s AND user_id = %s AND key = %s "
                     "AND status = %s AND created_at < now() - make_interval(secs => %s)",
                     (*ident, PENDING, PENDING_LEASE_SECONDS))
        row = conn.execute("SELECT request_hash, status, response FROM idempotency_keys WHERE firm_id = %s "
                           "AND user_id = %s AND key = %s", ident).fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was already used for a different request.")
    if row[1] == PENDING:
        raise ApiError(409, "request_in_progress", "The first request with this key is still running.")
    stored = row[2]
    if "sealed" in stored:
        opened = container.sealer.open(stored["scope"], stored["sealed"])
        if opened is None:
            raise NotFound("No such conversation.")
        stored = json.loads(opened)
    return JSONResponse(stored["payload"], status_code=row[1], headers={"Idempotent-Replayed": "true"})
