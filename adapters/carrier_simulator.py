"""A local stand-in for Twilio's Messages API, speaking its wire format, for dev and tests.

It accepts sends with Basic auth, answers like Twilio (201 message resource, or a JSON
error ``{code, message, more_info, status}``), then posts signed status callbacks.
It lists messages like Twilio too (``GET Messages.json`` filtered by To, From and
DateSent, newest first, paged), which the sender uses to reconcile an interrupted send.
Test hooks live under ``/_sim/`` (faults, slow answers, recorded messages with the time
each was accepted, media, handset keywords).
Magic recipients: a To ending in 0009 is undelivered (30003); ending in 0010 fails (30008).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.carrier_simulator_controls import control_routes
from adapters.phone import is_e164, mask_phone
from adapters.rate_limit import estimate_segments
from adapters.simulated_handset import (  # noqa: F401  (re-exported for callers)
    API_VERSION, DEV_FIRM_NUMBER, inject_inbound, inject_voice, new_sid, post_signed)

log = logging.getLogger(__name__)
API = f"/{API_VERSION}/Accounts/{{account_sid}}"
OUTCOMES = {"0009": [("sent", None), ("undelivered", 30003)], "0010": [("failed", 30008)]}
FAULT_TEXT = {429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error"),
              502: (20502, "Bad Gateway"), 503: (20503, "Service Unavailable"), 504: (20504, "Gateway Timeout")}


def twilio_error(status: int, code: int, message: str, headers: dict | None = None) -> JSONResponse:
    """A response shaped like Twilio's REST errors."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return JSONResponse(body, status_code=status, headers=headers)


def _sent_within(day: date | None, days: dict[str, date]) -> bool:
    """Twilio's DateSent filters: on a day (=), on or before (<), on or after (>) it.
    A message not sent yet has no date_sent, so any DateSent filter leaves it out."""
    if not days:
        return True
    return day is not None and all({"=": day == d, "<": day <= d, ">": day >= d}[op] for op, d in days.items())


def _list_page(path: str, query: dict, chosen: list[dict], page: int, size: int) -> dict:
    """One page of a Twilio list resource, with its paging URIs."""
    def uri(number: int) -> str:
        return f"{path}?{urlencode({**query, 'Page': number, 'PageSize': size})}"
    start = page * size
    messages = chosen[start:start + size]
    return {"messages": messages, "page": page, "page_size": size, "start": start,
            "end": start + max(len(messages) - 1, 0), "uri": uri(page), "first_page_uri": uri(0),
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "next_page_uri": uri(page + 1) if start + size < len(chosen) else None}


@dataclass
class CarrierState:
    """Everything the simulated carrier remembers (in memory, per process)."""
    messages: list[dict] = field(default_factory=list)
    faults: deque = field(default_factory=deque)
    slow_answers: deque = field(default_factory=deque)  # seconds to hold the next answers, after accepting
    accepted_at: dict[str, float] = field(default_factory=dict)  # sid -> epoch seconds (the test's clock)
    sent_on: dict[str, date] = field(default_factory=dict)  # sid -> UTC day of date_sent
    opted_out: set[tuple[str, str]] = field(default_factory=set)  # (handset, firm number)
    media: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)  # ME sid -> (bytes, type, blob token)
    blobs: dict[str, str] = field(default_factory=dict)  # blob token -> ME sid
    reorder_next: bool = False
    lost_callbacks: int = 0  # this many of the next status callbacks are never posted (the API was down)
    tasks: set = field(default_factory=set)
    http: httpx.AsyncClient | None = None


CALLBACK_DELAY = 0.05  # seconds before each status callback (the carrier's own time)


def create_simulator(settings, callback_delay: float = CALLBACK_DELAY) -> Starlette:
    """The simulator as an ASGI app, authenticating with ``settings``' Twilio credentials."""
    state = CarrierState()
    account_sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    api_base = settings.twilio_api_base.rstrip("/")

    def authorized(request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Compare bytes (str compare_digest rejects non-ASCII) and both parts, whatever the first says.
        user_ok = hmac.compare_digest(user.encode(), account_sid.encode())
        password_ok = hmac.compare_digest(password.encode(), token.encode())
        return scheme.lower() == "basic" and user_ok and password_ok

    def refused(request: Request) -> JSONResponse | None:
        if not authorized(request):
            return twilio_error(401, 20003, "Authenticate")
        if request.path_params["account_sid"] != account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return None

    async def send_message(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        if state.faults:
            status = state.faults.popleft()
            code, text = FAULT_TEXT.get(status, (20500, "Internal Server Error"))
            return twilio_error(status, code, text, {"Retry-After": "0"} if status == 429 else None)
        form = await request.form()
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        media_urls = form.getlist("MediaUrl")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not is_e164(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {mask_phone(to)}")
        if not is_e164(sender):
            return twilio_error(400, 21212, f"Invalid From Number (caller ID): {mask_phone(sender)}")
        if not body and not media_urls:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        callback = form.get("StatusCallback")
        if callback and not callback.startswith(("http://", "https://")):
            return twilio_error(400, 21609, "Invalid StatusCallback URL")
        if (to, sender) in state.opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid, now = new_sid("SM"), format_datetime(datetime.now(timezone.utc))
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        message = {
            "account_sid": account_sid, "api_version": API_VERSION, "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": sender, "messaging_service_sid": None, "num_media": str(len(media_urls)),
            "num_segments": str(estimate_segments(body)), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json",
        }
        state.messages.append(message)
        state.accepted_at[sid] = time.time()
        log.info("accepted %s to %s", sid, mask_phone(to))
        if state.slow_answers:  # accepted, but the answer (so every callback) is late: the sender may die waiting
            await asyncio.sleep(state.slow_answers.popleft())
        if callback:
            outcomes = list(OUTCOMES.get(to[-4:], [("sent", None), ("delivered", None)]))
            if state.reorder_next:
                outcomes.reverse()
                state.reorder_next = False
            task = asyncio.create_task(report(message, callback, outcomes))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        return JSONResponse(dict(message), status_code=201)

    async def list_messages(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        query = request.query_params
        try:
            days = {op: date.fromisoformat(query[name]) for op, name in
                    (("=", "DateSent"), ("<", "DateSent<"), (">", "DateSent>")) if name in query}
            size, page = min(int(query.get("PageSize", 50)), 1000), int(query.get("Page", 0))
        except ValueError:
            return twilio_error(400, 20001, "Invalid parameter")
        if size < 1 or page < 0:
            return twilio_error(400, 20001, "Invalid parameter")
        chosen = [m for m in reversed(state.messages)  # newest first, as Twilio lists
                  if query.get("To", m["to"]) == m["to"] and query.get("From", m["from"]) == m["from"]
                  and _sent_within(state.sent_on.get(m["sid"]), days)]
        return JSONResponse(_list_page(request.url.path, dict(query), chosen, page, size))


    async def report(message: dict, url: str, outcomes: list[tuple[str, int | None]]) -> None:
        # One task per message, callbacks in sequence: their order is the test's to choose.
        state.http = state.http or httpx.AsyncClient(timeout=15.0)  # Twilio's webhook timeout
        for status, error_code in outcomes:
            await asyncio.sleep(callback_delay)
            message["status"], message["error_code"] = status, error_code
            if status == "sent":
                now = datetime.now(timezone.utc)
                message["date_sent"], state.sent_on[message["sid"]] = format_datetime(now), now.date()
            form = {"MessageSid": message["sid"], "SmsSid": message["sid"], "MessageStatus": status,
                    "SmsStatus": status, "AccountSid": account_sid, "From": message["from"],
                    "To": message["to"], "ApiVersion": API_VERSION}
            if error_code is not None:
                form["ErrorCode"] = str(error_code)
            if state.lost_callbacks > 0:
                state.lost_callbacks -= 1
                log.info("status callback %s for %s lost on purpose", status, message["sid"])
                continue
            try:
                await post_signed(state.http, token, url, form)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # like Twilio: a missed status callback is not retried
                log.warning("status callback for %s failed: %s", message["sid"], type(exc).__name__)

    async def get_message(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        sid = request.path_params["message_sid"]
        found = next((m for m in state.messages if m["sid"] == sid), None)
        if found is None:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(dict(found))

    async def get_media(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        stored = state.media.get(request.path_params["media_sid"])
        if stored is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        # Twilio redirects to short-lived storage URLs; doing the same exercises redirects.
        return RedirectResponse(f"/_sim/blob/{stored[2]}", status_code=307)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        if state.http is not None:
            await state.http.aclose()

    app = Starlette(lifespan=lifespan, routes=[
        Route(f"{API}/Messages.json", send_message, methods=["POST"]),
        Route(f"{API}/Messages.json", list_messages, methods=["GET"]),
        Route(f"{API}/Messages/{{message_sid}}.json", get_message, methods=["GET"]),
        Route(f"{API}/Messages/{{message_sid}}/Media/{{media_sid}}", get_media, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *control_routes(state, api_base, account_sid),
    ])
    app.state.carrier = state
    return app
