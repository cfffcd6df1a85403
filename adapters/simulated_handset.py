"""The handset side of the carrier simulator: a client's phone texting or calling firmtext.

Builds Twilio's inbound webhook forms, signs them with ``X-Twilio-Signature`` over
``settings.public_url`` + the webhook path, and posts them to firmtext. The simulator
is told about each text first, as Twilio's own STOP/START handling would see it.
"""
from __future__ import annotations

import secrets
from typing import Iterable

import httpx

from adapters.rate_limit import estimate_segments
from adapters.twilio_signature import compute_signature

API_VERSION = "2010-04-01"
# The development firm's number; tests and `firmtext simulate` default to it.
DEV_FIRM_NUMBER = "+15550000000"
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})


def new_sid(prefix: str) -> str:
    """A Twilio-style identifier: two letters then 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def keyword(body: str) -> str | None:
    """``"stop"`` / ``"start"`` when ``body`` is one of Twilio's opt-out / opt-in keywords."""
    word = body.strip().upper()
    return "stop" if word in OPT_OUT_KEYWORDS else "start" if word in OPT_IN_KEYWORDS else None


async def post_signed(http: httpx.AsyncClient, auth_token: str, url: str, form: dict[str, str]) -> httpx.Response:
    """POST ``form`` to ``url`` the way Twilio does: urlencoded and signed."""
    headers = {
        "X-Twilio-Signature": compute_signature(auth_token, url, form),
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        "User-Agent": "TwilioProxy/1.1",
    }
    return await http.post(url, data=form, headers=headers)


async def inject_inbound(settings, from_number: str, body: str, to_number: str | None = None,
                         media: Iterable[tuple[bytes, str]] = (), message_sid: str | None = None,
                         http: httpx.AsyncClient | None = None) -> httpx.Response:
    """Text firmtext from ``from_number``: returns firmtext's answer to the webhook.

    Needs the simulator running at ``settings.twilio_api_base`` (it stores the media,
    so firmtext fetches it exactly as from Twilio, and it tracks STOP/START).
    """
    client = http or httpx.AsyncClient(timeout=20.0)
    try:
        media = list(media)
        to_number = to_number or DEV_FIRM_NUMBER
        sid = message_sid or new_sid("MM" if media else "SM")
        api = settings.twilio_api_base.rstrip("/")
        seen = await client.post(f"{api}/_sim/inbound", json={"from": from_number, "to": to_number, "body": body})
        seen.raise_for_status()
        form = {
            "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
            "AccountSid": settings.twilio_account_sid, "From": from_number, "To": to_number,
            "Body": body, "NumMedia": str(len(media)), "NumSegments": str(estimate_segments(body)),
            "SmsStatus": "received", "ApiVersion": API_VERSION,
        }
        for i, (content, content_type) in enumerate(media):
            stored = await client.post(f"{api}/_sim/media", params={"message_sid": sid},
                                       content=content, headers={"Content-Type": content_type})
            stored.raise_for_status()
            form[f"MediaUrl{i}"] = stored.json()["url"]
            form[f"MediaContentType{i}"] = content_type
        url = settings.public_url.rstrip("/") + "/webhooks/twilio/messages"
        return await post_signed(client, settings.twilio_auth_token, url, form)
    finally:
        if http is None:
            await client.aclose()


async def inject_voice(settings, from_number: str, to_number: str | None = None,
                       http: httpx.AsyncClient | None = None) -> httpx.Response:
    """Call firmtext from ``from_number``: returns firmtext's TwiML answer."""
    client = http or httpx.AsyncClient(timeout=20.0)
    try:
        to_number = to_number or DEV_FIRM_NUMBER
        form = {
            "CallSid": new_sid("CA"), "AccountSid": settings.twilio_account_sid,
            "From": from_number, "To": to_number, "Caller": from_number, "Called": to_number,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": API_VERSION,
        }
        url = settings.public_url.rstrip("/") + "/webhooks/twilio/voice"
        return await post_signed(client, settings.twilio_auth_token, url, form)
    finally:
        if http is None:
            await client.aclose()
