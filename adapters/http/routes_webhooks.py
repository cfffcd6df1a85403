"""Carrier webhooks in Twilio's wire format. Unsigned or forged requests get 403 and
leave no trace; everything else is answered with TwiML."""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from adapters.http.deps import container
from adapters.http.errors import ApiError, error_response
from adapters.http.openapi import TwimlResponse, refusals
from adapters.phone import InvalidPhone, to_e164
from adapters.twilio_signature import is_valid_signature
from adapters.twilio_webhooks import WebhookInvalid, form_fields, parse_inbound, parse_status
from domain.ids import conversation_id_of
from domain.use_cases_conversation import receive_inbound
from domain.use_cases_delivery import record_status

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/webhooks/twilio", tags=["carrier webhooks"])
log = logging.getLogger("firmtext.webhooks")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
REJECT_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>'
MAX_FORM_FIELDS = 1000  # as Starlette's form parser allows


def twiml(body: str) -> Response:
    return Response(body, media_type="application/xml")


async def signed_form(request: Request, c: Container) -> dict[str, str]:
    """The form, once its X-Twilio-Signature is proven; 403 otherwise."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type", "Carrier webhooks are form-encoded.")
    items = form_fields(await request.body())  # at most 64 KiB (adapters/http/body_limit.py)
    if len(items) > MAX_FORM_FIELDS:
        raise ApiError(400, "bad_request", f"Too many fields. Maximum number of fields is {MAX_FORM_FIELDS}.")
    params: dict[str, list[str]] = {}
    for key, value in items:
        params.setdefault(key, []).append(value)
    url = c.settings.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not is_valid_signature(c.settings.twilio_auth_token, url, params,
                              request.headers.get("x-twilio-signature")):
        raise ApiError(403, "invalid_signature", "The request is not signed by the carrier.")
    return {k: v[0] for k, v in params.items()}


@router.post("/messages", response_class=TwimlResponse, responses=refusals(403, 404, 415, 422))
async def inbound_message(request: Request):
    """An inbound SMS/MMS. The same MessageSid twice records one message."""
    c: Container = request.app.state.container  # not a dependency: solving one was 15 % of this route's CPU
    form = await signed_form(request, c)
    try:
        text = parse_inbound(form)
        sender, firm_number = to_e164(text.from_number), to_e164(text.to_number)
    except (WebhookInvalid, InvalidPhone) as exc:
        # A 4xx, never a 200: Twilio shows it in its debugger (error 11200) and tries the
        # fallback URL, instead of believing the text was kept. The reason names the field,
        # never its content, and so does the log.
        log.warning("inbound webhook refused: %s", exc.message)
        return error_response(422, "invalid_webhook", f"The webhook is malformed: {exc.message}")
    firm_id = c.firms_by_number.remembered(firm_number) or await c.run_sync(c.firms_by_number.firm_for, firm_number)
    if firm_id is None:
        return error_response(404, "unknown_number", "No firm texts from that number.")
    conversation_id = conversation_id_of(firm_id, c.sealer.phone_hash(firm_id, sender))
    media, rejected = [], []
    if text.media and not await c.run_sync(c.texting.is_blocked, conversation_id):
        # A blocked number's images are never fetched: nothing of them may land on disk.
        media, rejected = await c.media_intake.ingest(firm_id, conversation_id, text)
    # Twilio sets OptOutType when its own Advanced Opt-Out already answered the keyword.
    carrier_answered = bool(text.extra.get("OptOutType"))
    outcome = await c.committer.submit(receive_inbound, firm_id, sender, text.message_sid, text.body,
                                       media, rejected, carrier_answered, loads=(conversation_id,),
                                       sids=((conversation_id, text.message_sid),))
    c.metrics.inbound(outcome)
    return twiml(EMPTY_TWIML)


@router.post("/status", response_class=TwimlResponse, responses=refusals(403, 415, 422))
async def status_callback(request: Request):
    """Delivery status of a text we sent; only ever moves a status forward."""
    c: Container = request.app.state.container
    form = await signed_form(request, c)
    try:
        update = parse_status(form)
    except WebhookInvalid as exc:
        return error_response(422, "invalid_webhook", f"The webhook is malformed: {exc}")
    try:
        conversation_id = UUID(request.query_params.get("conversation", ""))
        message_id = request.query_params["message"]
    except (ValueError, KeyError):
        return twiml(EMPTY_TWIML)  # not a message firmtext sent: nothing to record
    await c.committer.submit(record_status, conversation_id, message_id, update.status, update.error_code,
                             loads=(conversation_id,))
    return twiml(EMPTY_TWIML)


@router.post("/voice", response_class=TwimlResponse, responses=refusals(403, 415))
async def voice(request: Request, c: Container = Depends(container)):
    """Calls to the texting number are disabled: reject them."""
    await signed_form(request, c)
    return twiml(REJECT_TWIML)


# Served by adapters/http/direct_routes.py, past the router: every text crosses one of these.
DIRECT = (inbound_message, status_callback)
