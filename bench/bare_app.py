"""The HTTP ceiling: the API's server stack (FastAPI on uvicorn, one process, the same
options as ``firmtext api``) answering the webhook path with empty TwiML and doing
nothing else. ``python -m bench.bare_app PORT``."""
from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi.responses import Response

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
app = FastAPI()


@app.post("/webhooks/twilio/messages")
async def inbound(request: Request) -> Response:
    await request.body()
    return Response(EMPTY_TWIML, media_type="application/xml")


@app.get("/healthz")
async def healthz() -> dict:
    return {"ok": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
