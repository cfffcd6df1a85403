"""The carrier simulator's test controls, under ``/_sim/``: media uploads, what handsets
texted (STOP/START), injected faults and slow answers, the record of accepted messages
(with when each was accepted), callback order, lost callbacks.

They are unauthenticated on purpose: the simulator only listens on 127.0.0.1.
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulated_handset import API_VERSION, keyword, new_sid

if TYPE_CHECKING:
    from adapters.carrier_simulator import CarrierState


async def _json_object(request: Request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def control_routes(state: "CarrierState", api_base: str, account_sid: str) -> list[Route]:
    """The ``/_sim/`` routes, acting on the simulator's ``state``."""

    async def get_blob(request: Request) -> Response:
        media_sid = state.blobs.get(request.path_params["blob"])
        if media_sid is None:
            return Response(status_code=404)
        content, content_type, _ = state.media[media_sid]
        return Response(content, media_type=content_type)

    async def put_media(request: Request) -> JSONResponse:
        message_sid = request.query_params.get("message_sid") or new_sid("MM")
        media_sid, blob = new_sid("ME"), secrets.token_urlsafe(24)
        content_type = request.headers.get("content-type") or "application/octet-stream"
        state.media[media_sid] = (await request.body(), content_type, blob)
        state.blobs[blob] = media_sid
        url = f"{api_base}/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"
        return JSONResponse({"url": url, "sid": media_sid, "message_sid": message_sid}, status_code=201)

    async def handset_text(request: Request) -> JSONResponse:
        data = await _json_object(request)
        if not data.get("from") or not data.get("to"):
            return JSONResponse({"error": "from and to are required"}, status_code=400)
        pair, word = (data["from"], data["to"]), keyword(str(data.get("body") or ""))
        if word == "stop":
            state.opted_out.add(pair)
        elif word == "start":
            state.opted_out.discard(pair)
        return JSONResponse({"keyword": word, "opted_out": pair in state.opted_out})

    async def add_faults(request: Request) -> JSONResponse:
        data = await _json_object(request)
        status, count = data.get("status"), data.get("count", 1)
        if "answer_delay" in data:  # accept the next sends, then answer late
            delay = data["answer_delay"]
            if not isinstance(delay, (int, float)) or not 0 <= delay <= 600 or not isinstance(count, int) or count < 0:
                return JSONResponse({"error": "answer_delay must be 0-600 seconds and count a whole number"},
                                    status_code=400)
            state.slow_answers.extend([float(delay)] * count)
            return JSONResponse({"pending": len(state.slow_answers)})
        if not isinstance(status, int) or not (status == 429 or 500 <= status <= 599) or not isinstance(count, int) or count < 0:
            return JSONResponse({"error": "status must be 429 or 5xx and count a whole number"}, status_code=400)
        state.faults.extend([status] * count)
        return JSONResponse({"pending": len(state.faults)})

    async def messages(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            state.messages.clear()
            state.accepted_at.clear()
        to = request.query_params.get("to")
        chosen = [m for m in state.messages if to in (None, m["to"])]
        accepted_at = {m["sid"]: state.accepted_at.get(m["sid"]) for m in chosen}
        return JSONResponse({"messages": chosen, "accepted_at": accepted_at})

    async def reorder(request: Request) -> Response:
        state.reorder_next = True
        return Response(status_code=204)

    async def lose(request: Request) -> JSONResponse:
        count = (await _json_object(request)).get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            return JSONResponse({"error": "count must be a whole number from 0 to 100000"}, status_code=400)
        state.lost_callbacks = count
        return JSONResponse({"pending": state.lost_callbacks})

    async def reset(request: Request) -> Response:
        state.messages.clear()
        state.faults.clear()
        state.slow_answers.clear()
        state.accepted_at.clear()
        state.sent_on.clear()
        state.opted_out.clear()
        state.reorder_next = False
        state.lost_callbacks = 0
        return Response(status_code=204)

    return [
        Route("/_sim/blob/{blob}", get_blob, methods=["GET"]),
        Route("/_sim/media", put_media, methods=["POST"]),
        Route("/_sim/inbound", handset_text, methods=["POST"]),
        Route("/_sim/faults", add_faults, methods=["POST"]),
        Route("/_sim/messages", messages, methods=["GET", "DELETE"]),
        Route("/_sim/callbacks/reorder", reorder, methods=["POST"]),
        Route("/_sim/callbacks/lose", lose, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
