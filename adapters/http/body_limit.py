"""The whole-request size cap, checked before anything parses the body
(docs/input-policy.md): a declared Content-Length over the cap is answered 413 at once;
a body streamed without one is counted as it arrives and refused when it passes the cap."""
from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException

from domain.input_policy import MAX_JSON_REQUEST_BYTES, MAX_WEBHOOK_REQUEST_BYTES

log = logging.getLogger("firmtext.api")
# Refused bodies up to this size are read to the end so the client sees the 413; larger
# ones are cut off (the connection closes), so nobody can make us read without end.
DRAIN_BYTES = 8 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the cap. An HTTPException, so
    FastAPI's body parsing re-raises it as it is and the error handler answers 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"The request body is larger than the {cap // 1024} KiB this endpoint accepts.")


def cap_for(path: str) -> int:
    """Bytes a request to ``path`` may carry."""
    return MAX_WEBHOOK_REQUEST_BYTES if path.startswith("/webhooks/") else MAX_JSON_REQUEST_BYTES


class BodyLimit:
    """ASGI middleware enforcing :func:`cap_for` on every HTTP request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = cap_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            log.warning("request to %s refused: Content-Length over %d bytes", scope["path"], cap)
            if int(declared) <= DRAIN_BYTES:
                await _drain(receive)
            return await _refuse(send, cap)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    log.warning("request to %s refused: body over %d bytes", scope["path"], cap)
                    raise BodyTooLarge(cap)
            return message

        return await self.app(scope, counted, send)


async def _drain(receive) -> None:
    """Read (and drop) the rest of a refused body: a client still uploading when the
    server answers and closes gets a connection reset instead of our 413."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _refuse(send, cap: int) -> None:
    body = json.dumps({"error": {"code": "too_large", "message": BodyTooLarge(cap).detail}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
