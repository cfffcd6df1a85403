"""The real Twilio adapter against the carrier simulator, both over real HTTP (uvicorn).

A second small app plays firmtext's webhook receiver: it checks every signature and
parses every form with the production parsers.
"""
import asyncio
import time
from datetime import datetime, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.carrier_simulator import create_simulator, inject_inbound, inject_voice
from adapters.twilio_client import (
    CarrierRejected, CarrierUnavailable, MediaTooLarge, MediaUnavailable, TwilioMessages)
from adapters.twilio_signature import is_valid_signature
from adapters.twilio_webhooks import is_forward, parse_inbound, parse_status
from firmtext.config import Settings
from tests.local_server import serving

FIRM = "+15550000000"
CLIENT = "+15557654321"
TOKEN = "test-auth-token"


class Receiver:
    """Plays firmtext's carrier webhooks; records (form, signature valid) per request."""

    def __init__(self):
        self.base = ""
        self.statuses: list[tuple[dict, bool]] = []
        self.inbound: list[tuple[dict, bool]] = []

    def app(self, base):
        self.base = base

        async def record(request: Request, into: list) -> None:
            form = await request.form()
            url = self.base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            valid = is_valid_signature(TOKEN, url, form, request.headers.get("x-twilio-signature"))
            into.append((dict(form), valid))

        async def status(request):
            await record(request, self.statuses)
            return Response(status_code=204)

        async def messages(request):
            await record(request, self.inbound)
            return Response("<Response/>", media_type="text/xml")

        async def voice(request):
            await record(request, self.inbound)
            return Response("<Response><Reject/></Response>", media_type="text/xml")

        return Starlette(routes=[Route("/status", status, methods=["POST"]),
                                 Route("/webhooks/twilio/messages", messages, methods=["POST"]),
                                 Route("/webhooks/twilio/voice", voice, methods=["POST"])])

    async def callbacks(self, sid, count, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(f, ok) for f, ok in self.statuses if f.get("MessageSid") == sid]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"expected {count} callbacks for {sid}, got {len(found)}")


@pytest.fixture(scope="module")
async def carrier():
    receiver = Receiver()
    async with serving(receiver.app) as receiver_base:
        holder = {}

        def make_simulator(base):
            holder["settings"] = Settings(twilio_auth_token=TOKEN, public_url=receiver_base,
                                          twilio_api_base=base, carrier_rate_per_second=1000.0)
            return create_simulator(holder["settings"], callback_delay=0.02)

        async with serving(make_simulator), httpx.AsyncClient(timeout=5.0) as http:
            yield holder["settings"], receiver, http


@pytest.fixture
async def sim(carrier):
    settings, receiver, http = carrier
    (await http.post(f"{settings.twilio_api_base}/_sim/reset")).raise_for_status()
    receiver.statuses.clear()
    receiver.inbound.clear()
    return carrier


@pytest.fixture
async def twilio(sim):
    client = TwilioMessages.from_settings(sim[0], backoff_base=0.01)
    yield client
    await client.aclose()


async def accepted(settings, http):
    return (await http.get(f"{settings.twilio_api_base}/_sim/messages")).json()["messages"]


async def test_healthz(sim):
    settings, _, http = sim
    assert (await http.get(f"{settings.twilio_api_base}/healthz")).status_code == 200


async def test_send_returns_a_receipt_and_signed_callbacks_follow(sim, twilio):
    settings, receiver, http = sim
    receipt = await twilio.send(FIRM, "+15551230001", "Your hearing moved to 3pm",
                                status_callback=f"{receiver.base}/status?firm=f1")
    assert receipt.sid.startswith("SM") and len(receipt.sid) == 34 and receipt.status == "queued"
    [message] = await accepted(settings, http)
    assert (message["sid"], message["to"], message["from"]) == (receipt.sid, "+15551230001", FIRM)
    assert message["body"] == "Your hearing moved to 3pm" and message["num_segments"] == "1"
    callbacks = await receiver.callbacks(receipt.sid, 2)
    assert all(valid for _, valid in callbacks)
    assert [parse_status(f).status for f, _ in callbacks] == ["sent", "delivered"]


@pytest.mark.parametrize("to, statuses, code", [
    ("+15551230009", ["sent", "undelivered"], 30003),
    ("+15551230010", ["failed"], 30008),
])
async def test_magic_recipients_fail(sim, twilio, to, statuses, code):
    _, receiver, _ = sim
    receipt = await twilio.send(FIRM, to, "hi", status_callback=f"{receiver.base}/status")
    updates = [parse_status(f) for f, ok in await receiver.callbacks(receipt.sid, len(statuses)) if ok]
    assert [u.status for u in updates] == statuses
    assert updates[-1].error_code == code and all(u.error_code is None for u in updates[:-1])


async def test_reordered_callbacks_still_end_delivered(sim, twilio):
    settings, receiver, http = sim
    await http.post(f"{settings.twilio_api_base}/_sim/callbacks/reorder")
    receipt = await twilio.send(FIRM, "+15551230001", "hi", status_callback=f"{receiver.base}/status")
    arrived = [parse_status(f).status for f, _ in await receiver.callbacks(receipt.sid, 2)]
    assert arrived == ["delivered", "sent"]
    status = "queued"
    for new in arrived:
        status = new if is_forward(status, new) else status
    assert status == "delivered"


async def test_429_twice_then_success_sends_exactly_once(sim, twilio):
    settings, _, http = sim
    await http.post(f"{settings.twilio_api_base}/_sim/faults", json={"status": 429, "count": 2})
    receipt = await twilio.send(FIRM, "+15551230001", "once only")
    assert [m["sid"] for m in await accepted(settings, http)] == [receipt.sid]


async def test_5xx_beyond_max_attempts_is_unavailable(sim):
    settings, _, http = sim
    await http.post(f"{settings.twilio_api_base}/_sim/faults", json={"status": 500, "count": 3})
    client = TwilioMessages.from_settings(settings, max_attempts=3, backoff_base=0.01)
    try:
        with pytest.raises(CarrierUnavailable) as caught:
            await client.send(FIRM, "+15551230001", "hi")
        assert not caught.value.maybe_sent
        await http.post(f"{settings.twilio_api_base}/_sim/faults", json={"status": 503, "count": 2})
        assert (await client.send(FIRM, "+15551230001", "hi")).status == "queued"
    finally:
        await client.aclose()
    assert len(await accepted(settings, http)) == 1


async def test_unreachable_carrier_is_unavailable():
    client = TwilioMessages("AC" + "0" * 32, TOKEN, "http://127.0.0.1:9", 1000.0, max_attempts=2, backoff_base=0.01)
    try:
        with pytest.raises(CarrierUnavailable):
            await client.send(FIRM, "+15551230001", "hi")
    finally:
        await client.aclose()


async def test_stop_then_send_is_rejected_until_start(sim, twilio):
    settings, receiver, http = sim
    assert (await inject_inbound(settings, CLIENT, "Stop ", to_number=FIRM, http=http)).status_code == 200
    with pytest.raises(CarrierRejected) as caught:
        await twilio.send(FIRM, CLIENT, "Reminder")
    assert (caught.value.code, caught.value.status) == (21610, 400)
    await inject_inbound(settings, CLIENT, "START", to_number=FIRM, http=http)
    assert (await twilio.send(FIRM, CLIENT, "Reminder")).status == "queued"
    assert all(valid for _, valid in receiver.inbound)


async def test_bad_numbers_and_bad_credentials_are_rejected(sim, twilio):
    settings, _, http = sim
    with pytest.raises(CarrierRejected) as caught:
        await twilio.send(FIRM, "555-1234", "hi")
    assert (caught.value.code, caught.value.status) == (21211, 400)
    with pytest.raises(CarrierRejected) as caught:
        await twilio.send("firm", "+15551230001", "hi")
    assert caught.value.code == 21212
    with pytest.raises(CarrierRejected) as caught:
        await twilio.send(FIRM, "+15551230001", "hi", status_callback="ftp://elsewhere/status")
    assert caught.value.code == 21609
    intruder = TwilioMessages(settings.twilio_account_sid, "wrong", settings.twilio_api_base, 1000.0)
    try:
        with pytest.raises(CarrierRejected) as caught:
            await intruder.send(FIRM, "+15551230001", "hi")
        assert (caught.value.code, caught.value.status) == (20003, 401)
    finally:
        await intruder.aclose()
    assert await accepted(settings, http) == []


async def test_inbound_mms_media_is_fetched_with_basic_auth(sim, twilio):
    settings, receiver, http = sim
    photo, pdf = b"\x89PNG\r\n\x1a\n" + b"x" * 5000, b"%PDF-1.7 retainer"
    response = await inject_inbound(settings, CLIENT, "signed copy", to_number=FIRM,
                                    media=[(photo, "image/png"), (pdf, "application/pdf")], http=http)
    assert response.status_code == 200 and response.text == "<Response/>"
    [(form, valid)] = receiver.inbound
    text = parse_inbound(form)
    assert valid and text.message_sid.startswith("MM") and text.num_media == 2
    assert (text.from_number, text.to_number, text.body) == (CLIENT, FIRM, "signed copy")
    assert text.extra["SmsStatus"] == "received" and text.extra["AccountSid"] == settings.twilio_account_sid
    fetched = [await twilio.fetch_media(m.url) for m in text.media]
    assert [(f.content, f.content_type) for f in fetched] == [(photo, "image/png"), (pdf, "application/pdf")]
    anonymous = await http.get(text.media[0].url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    with pytest.raises(MediaTooLarge):
        await twilio.fetch_media(text.media[0].url, max_bytes=1000)
    with pytest.raises(MediaUnavailable):  # never hand the credentials to another host
        await twilio.fetch_media("http://example.invalid/steal")
    intruder = TwilioMessages(settings.twilio_account_sid, "wrong", settings.twilio_api_base, 1.0)
    with pytest.raises(MediaUnavailable) as caught:
        await intruder.fetch_media(text.media[0].url)
    assert caught.value.status == 401
    await intruder.aclose()


async def test_media_download_stops_once_over_the_limit():
    served = []

    async def chunks():
        for _ in range(100):
            served.append(1)
            yield b"x" * 1024

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=chunks()))
    async with httpx.AsyncClient(transport=transport) as http:
        client = TwilioMessages("AC" + "0" * 32, TOKEN, "https://api.twilio.com", 1.0, http=http)
        with pytest.raises(MediaTooLarge):
            await client.fetch_media("https://api.twilio.com/2010-04-01/x/Media/ME1", max_bytes=4096)
    assert len(served) < 10


async def test_voice_webhook_is_signed(sim):
    settings, receiver, http = sim
    response = await inject_voice(settings, CLIENT, http=http)
    assert response.text == "<Response><Reject/></Response>"
    [(form, valid)] = receiver.inbound
    assert valid and form["CallSid"].startswith("CA") and form["From"] == CLIENT


async def test_rate_limit_is_per_sending_number(sim):
    settings, _, http = sim
    client = TwilioMessages.from_settings(settings.with_overrides(carrier_rate_per_second=10.0))
    other = "+15550000001"
    try:
        started = time.monotonic()
        await asyncio.gather(*(client.send(FIRM, "+15551230001", f"m{i}") for i in range(5)))
        assert time.monotonic() - started >= 0.4
        await http.delete(f"{settings.twilio_api_base}/_sim/messages")
        started = time.monotonic()
        await asyncio.gather(*(client.send(n, "+15551230001", f"m{i}") for i in range(5) for n in (FIRM, other)))
        elapsed = time.monotonic() - started
    finally:
        await client.aclose()
    assert 0.4 <= elapsed < 0.85  # one number alone would need 0.9 s for ten
    senders = [m["from"] for m in await accepted(settings, http)]
    assert set(senders[:2]) == {FIRM, other}  # the numbers interleave, neither waits for the other


async def test_the_carrier_lists_messages_by_from_to_and_day_sent_newest_first(sim, twilio):
    settings, receiver, http = sim
    other = "+15557654322"
    sids = [(await twilio.send(FIRM, CLIENT, f"text {i}", receiver.base + "/status")).sid for i in range(3)]
    await twilio.send(FIRM, other, "text 0")  # another client: never listed for CLIENT
    url = f"{settings.twilio_api_base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
    auth = (settings.twilio_account_sid, TOKEN)

    page = (await http.get(url, params={"From": FIRM, "To": CLIENT, "PageSize": 2}, auth=auth)).json()
    assert [m["sid"] for m in page["messages"]] == sids[::-1][:2]
    assert page["page_size"] == 2 and page["next_page_uri"]
    rest = (await http.get(settings.twilio_api_base + page["next_page_uri"], auth=auth)).json()
    assert [m["sid"] for m in rest["messages"]] == sids[:1] and rest["next_page_uri"] is None

    async def sent_today():  # date_sent is set once the carrier reports "sent"
        today = time.strftime("%Y-%m-%d", time.gmtime())
        found = (await http.get(url, params={"From": FIRM, "To": CLIENT, "DateSent>": today}, auth=auth)).json()
        return len(found["messages"]) == 3
    deadline = time.monotonic() + 5
    while not await sent_today():
        assert time.monotonic() < deadline, "date_sent never set"
        await asyncio.sleep(0.05)
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    later = (await http.get(url, params={"To": CLIENT, "DateSent>": tomorrow}, auth=auth)).json()
    assert later["messages"] == []
    assert (await http.get(url, params={"To": CLIENT})).status_code == 401

    listed = await twilio.messages_between(FIRM, CLIENT, datetime.now(timezone.utc).date())
    assert sorted(m["sid"] for m in listed) == sorted(sids)
